// Dashboard frame entry point (anywidget): an empty strip above the plotly figure that tells
// Python what the figure cannot see: the width of its cell and JupyterLab's theme colours
// (its CSS variables). Python lays the panels out for that width and paints the figure in those
// colours, so every view (and a reloaded page) gets them from the synced figure state.

/** @typedef {import("@anywidget/types").AnyModel} AnyModel */

/** Figure colour role -> the JupyterLab CSS variable it is read from. */
export const THEME_VARS = {
  paper: "--jp-layout-color0",
  plot: "--jp-layout-color0",
  font: "--jp-ui-font-color1",
  muted: "--jp-ui-font-color2",
  grid: "--jp-border-color2",
  line: "--jp-border-color1",
  header: "--jp-layout-color2",
  cell: "--jp-layout-color1",
  family: "--jp-ui-font-family",
};
const SETTLE_MS = 150; // resize events are coalesced: one width per pause

/**
 * The theme as JupyterLab's CSS variables resolve at `el` (empty values are left out).
 * @param {HTMLElement} el
 * @returns {Record<string, string>}
 */
export function readTheme(el) {
  const css = getComputedStyle(el);
  /** @type {Record<string, string>} */
  const out = {};
  for (const [role, name] of Object.entries(THEME_VARS)) {
    const value = css.getPropertyValue(name).trim();
    if (value) out[role] = value;
  }
  const light = document.body.dataset.jpThemeLight;
  if (light !== undefined) out.light = light;
  return out;
}

/**
 * Report `el`'s width and the theme to the model now and whenever either changes.
 * @param {{model: AnyModel, el: HTMLElement}} ctx
 * @returns {() => void} cleanup: stops the observers and the pending timer
 */
function render({ model, el }) {
  el.classList.add("llmlabel-dashboard-frame");
  el.style.width = "100%";
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const report = () => {
    timer = undefined;
    let changed = false;
    const width = Math.round(el.getBoundingClientRect().width);
    if (width > 0 && width !== model.get("width")) {
      model.set("width", width);
      changed = true;
    }
    const theme = readTheme(el);
    if (JSON.stringify(theme) !== JSON.stringify(model.get("theme"))) {
      model.set("theme", theme);
      changed = true;
    }
    if (changed) model.save_changes();
  };
  const later = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(report, SETTLE_MS);
  };
  const sizes = new ResizeObserver(later);
  sizes.observe(el);
  // JupyterLab switches themes by swapping stylesheets and the body's data-jp-theme-* marks.
  const themes = new MutationObserver(later);
  themes.observe(document.body, {
    attributes: true,
    attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"],
  });
  later();
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    sizes.disconnect();
    themes.disconnect();
  };
}

export default { render };
