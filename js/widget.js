// Labeler view. Placeholder until the widget issue: shows the current item's text.
function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "llmlabel-root";
  const draw = () => {
    root.textContent = (model.get("current") || {}).text || "";
  };
  model.on("change:current", draw);
  draw();
  el.appendChild(root);
  return () => model.off("change:current", draw);
}
export default { render };
