// WCAG contrast of each visible HTML text inside a selector against the first opaque
// background behind it (the nearest ancestor's background colour), the text colour's own
// alpha blended in. axe-core skips this text inside JupyterLab (it takes the windowed notebook's
// cells for hidden), so the test computes it here. Run by tests/e2e/a11y.py.
(sel) => {
  const rgba = (c) => {
    const v = (c.match(/[\d.]+/g) || []).map(Number);
    return v.length >= 3 ? [v[0], v[1], v[2], v.length > 3 ? v[3] : 1] : null;
  };
  const lum = ([r, g, b]) => {
    const f = (v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let n = el; n; n = n.parentElement) {
      const bg = rgba(getComputedStyle(n).backgroundColor);
      if (bg && bg[3] > 0.5) return bg;
    }
    return [255, 255, 255, 1];
  };
  const out = [];
  for (const el of document.querySelectorAll(`${sel} *`)) {
    const own = [...el.childNodes].filter((c) => c.nodeType === 3 && c.textContent.trim());
    if (!own.length || el.closest("svg")) continue;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || style.visibility === "hidden") continue;
    if (Number(style.opacity) === 0) continue;
    const fg = rgba(style.color);
    const bg = background(el);
    if (!fg) continue;
    const a = fg[3];
    const mixed = [0, 1, 2].map((i) => fg[i] * a + bg[i] * (1 - a));
    const [x, y] = [lum(mixed), lum(bg)].sort((p, q) => q - p);
    const size = parseFloat(style.fontSize);
    const bold = Number(style.fontWeight) >= 700;
    const large = size >= 24 || (bold && size >= 18.66);
    out.push({
      text: own[0].textContent.trim().slice(0, 40),
      fill: style.color,
      bg: `rgb(${bg.slice(0, 3).join(", ")})`,
      ratio: (x + 0.05) / (y + 0.05),
      large,
    });
  }
  return out;
}
