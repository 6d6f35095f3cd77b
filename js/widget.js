// Labeler view entry point (anywidget). Bundled by esbuild into llmlabel_widget/static.
import { createView } from "./view.js";

/** @type {import("@anywidget/types").Render} */
function render({ model, el }) {
  return createView(model, el);
}

export default { render };
