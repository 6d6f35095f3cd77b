// Tiny DOM helper. Untrusted strings only ever become text nodes or attribute values,
// never markup: there is deliberately no way to pass HTML through here.

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {{cls?: string, text?: string | null, attrs?: Record<string, string>}} [opts]
 * @param {(Node | null | undefined | false)[]} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, opts = {}, children = []) {
  const node = document.createElement(tag);
  if (opts.cls) node.className = opts.cls;
  if (opts.attrs) {
    for (const [k, v] of Object.entries(opts.attrs)) node.setAttribute(k, v);
  }
  if (opts.text != null) node.textContent = opts.text;
  for (const child of children) {
    if (child) node.appendChild(child);
  }
  return node;
}

/**
 * Remove all children of a node.
 * @param {Element} node
 */
export function clear(node) {
  node.replaceChildren();
}

/**
 * Show or hide a node.
 * @param {HTMLElement} node
 * @param {boolean} visible
 */
export function show(node, visible) {
  node.hidden = !visible;
}
