// What one part of a view added (DOM listeners, model handlers, timers), undone in one call.

/** @typedef {import("@anywidget/types").AnyModel} AnyModel */

/**
 * @typedef {object} Scope
 * @property {(target: EventTarget, type: string, fn: (ev: any) => void) => void} listen
 * @property {(name: string, fn: () => void) => void} onModel listen to `change:<name>`
 * @property {(fn: () => void, ms: number) => void} later a timeout cleared by `dispose`
 * @property {() => void} dispose remove every listener and handler, clear every timer
 */

/**
 * @param {AnyModel} model
 * @returns {Scope}
 */
export function createScope(model) {
  /** @type {ReturnType<typeof setTimeout>[]} */
  const timers = [];
  /** @type {[string, () => void][]} */
  const modelHandlers = [];
  /** @type {[EventTarget, string, EventListener][]} */
  const domHandlers = [];
  return {
    listen(target, type, fn) {
      target.addEventListener(type, fn);
      domHandlers.push([target, type, fn]);
    },
    onModel(name, fn) {
      model.on(`change:${name}`, fn);
      modelHandlers.push([`change:${name}`, fn]);
    },
    later(fn, ms) {
      const t = setTimeout(() => {
        const i = timers.indexOf(t);
        if (i !== -1) timers.splice(i, 1);
        fn();
      }, ms);
      timers.push(t);
    },
    dispose() {
      for (const t of timers.splice(0)) clearTimeout(t);
      for (const [name, fn] of modelHandlers.splice(0)) model.off(name, fn);
      for (const [target, type, fn] of domHandlers.splice(0)) {
        target.removeEventListener(type, fn);
      }
    },
  };
}
