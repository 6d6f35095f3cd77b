// A stand-in for the anywidget model: get/set/on/off/save_changes/send, recording what the
// view sends and counting listeners so tests can check cleanup.

/**
 * @param {Record<string, any>} [state]
 */
export function fakeModel(state = {}) {
  /** @type {Map<string, Set<Function>>} */
  const listeners = new Map();
  const data = { ...defaultState(), ...state };
  /** @type {any[]} */
  const sent = [];
  const model = {
    sent,
    /** @param {string} key */
    get(key) {
      return data[key];
    },
    /** @param {string} key @param {any} value */
    set(key, value) {
      data[key] = value;
      emit(`change:${key}`);
    },
    /** Apply several traits at once, then fire change events (like a comm update). */
    /** @param {Record<string, any>} patch */
    update(patch) {
      Object.assign(data, patch);
      for (const key of Object.keys(patch)) emit(`change:${key}`);
    },
    /** @param {string} name @param {Function} fn */
    on(name, fn) {
      if (!listeners.has(name)) listeners.set(name, new Set());
      listeners.get(name)?.add(fn);
    },
    /** @param {string} [name] @param {Function} [fn] */
    off(name, fn) {
      if (!name) listeners.clear();
      else if (!fn) listeners.delete(name);
      else listeners.get(name)?.delete(fn);
    },
    save_changes() {},
    /** @param {any} content */
    send(content) {
      sent.push(structuredClone(content));
    },
    listenerCount() {
      let n = 0;
      for (const set of listeners.values()) n += set.size;
      return n;
    },
    widget_manager: {},
  };
  /** @param {string} name */
  function emit(name) {
    for (const fn of [...(listeners.get(name) || [])]) fn();
  }
  return model;
}

export const LABELS = [
  { name: "agree", description: "agrees it is a serious concern", key: "1" },
  { name: "neutral_or_disagree", description: "neutral or disagrees", key: "2" },
];

export const SHORTCUTS = {
  accept: ["Enter", "a"],
  skip: ["s", " "],
  note: ["n"],
  undo: ["z", "Backspace"],
  filter: ["/"],
  queue: ["l"],
  help: ["?"],
  labels: ["1", "2"],
};

/**
 * @param {Partial<Record<string, any>>} [overrides]
 */
export function item(overrides = {}) {
  return {
    item_id: "gwsd-1",
    text: "Sea levels are rising faster than expected, the report says.",
    text_length: 61,
    meta: {},
    reason: "next in pool",
    proposal: {
      labels: ["agree"],
      valid: true,
      rationale: 'It says "rising faster than expected".',
      confidence: 0.82,
      confidence_method: "logprob",
      source: "openai",
      model: "gpt-4o-mini",
      prompt_version: "abc123def456",
      raw: '{"label": "agree"}',
      problem: null,
    },
    ...overrides,
  };
}

function defaultState() {
  return {
    labels: LABELS,
    multi_label: false,
    current: item(),
    queue_preview: [
      { item_id: "gwsd-2", reason: "next in pool", preview: "Claims of warming are exaggerated." },
      { item_id: "gwsd-3", reason: "skipped earlier", preview: "We will rely on fossil fuels." },
    ],
    progress: {
      done: 3,
      skipped: 1,
      total: 1302,
      agreement: { rate: 0.75, low: 0.3, high: 0.95, n: 4 },
      store: "quickstart.labels.db",
      annotator: "alice",
    },
    busy: false,
    error: "",
    notice: "",
    shortcuts: SHORTCUTS,
    revision: 1,
    done: false,
  };
}
