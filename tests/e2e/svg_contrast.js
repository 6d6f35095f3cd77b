// WCAG contrast of each visible SVG text (plotly's) inside a selector, against the first opaque
// background behind it: a plotly rect.bg when the text lies inside one, else the SVG's own
// background, else the nearest HTML ancestor's background colour. Run by tests/e2e/a11y.py.
(sel) => {
  const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const opaque = (c) => { const v = rgb(c); return v.length >= 3 && (v.length < 4 || v[3] > 0.5); };
  const lum = (c) => {
    const [r, g, b] = rgb(c).slice(0, 3).map((v) => {
      const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const inside = (x, y, b) => x >= b.left && x <= b.right && y >= b.top && y <= b.bottom;
  const behind = (el) => {
    const box = el.getBoundingClientRect();
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    // plotly stacks several SVGs in one container; the first one's background is the paper
    const layers = el.closest(".svg-container")?.querySelectorAll("svg.main-svg") ?? [];
    for (const svg of [...layers].reverse()) {
      for (const r of [...svg.querySelectorAll("rect.bg")].reverse()) {
        const { fill, fillOpacity } = getComputedStyle(r);
        const shown = opaque(fill) && Number(fillOpacity) > 0.5;
        if (shown && inside(cx, cy, r.getBoundingClientRect())) return fill;
      }
    }
    for (let n = layers[0] ?? el.ownerSVGElement; n; n = n.parentElement) {
      const bg = getComputedStyle(n).backgroundColor;
      if (opaque(bg)) return bg;
    }
    return "rgb(255, 255, 255)";
  };
  // a heatmap cell's text: plotly picks its colour against the cell, which is an image here
  const onHeatmap = (el) => {
    const box = el.getBoundingClientRect();
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    const root = el.closest(".svg-container") ?? document;
    return [...root.querySelectorAll("g.hm image")].some((i) =>
      inside(cx, cy, i.getBoundingClientRect()),
    );
  };
  const out = [];
  for (const t of document.querySelectorAll(`${sel} svg text`)) {
    const box = t.getBoundingClientRect();
    if (!t.textContent.trim() || box.width === 0 || getComputedStyle(t).visibility === "hidden") continue;
    const fill = getComputedStyle(t).fill;
    if (!opaque(fill) || onHeatmap(t)) continue;
    out.push({ text: t.textContent.trim().slice(0, 40), fill, bg: behind(t), ratio: ratio(fill, behind(t)) });
  }
  return out;
}
