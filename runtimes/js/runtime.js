// The JavaScript language runtime of kube-shields (world `script-runtime`).
//
// On every call (a fresh instance of the snapshot taken at build time) it reads the
// author's script through `script.source`, evaluates it as a classic script with the
// author's API as globals (`check`, `shield`, `http`, `log`, `console`), and dispatches
// `checks` to the functions it registered. See example-plugins/js/README.md.

import * as scriptNs from 'kube-shields:plugin/script@0.1.3';
import * as loggingNs from 'kube-shields:plugin/logging@0.1.3';
import * as httpNs from 'kube-shields:plugin/http@0.1.3';
import * as workloadNs from 'kube-shields:plugin/workload@0.1.3';

// Backends differ: QuickJS exposes an interface as the default export, StarlingMonkey as
// named exports.
const script = scriptNs.default ?? scriptNs;
const logging = loggingNs.default ?? loggingNs;
const wasiHttp = httpNs.default ?? httpNs;
const workload = workloadNs.default ?? workloadNs;

// Check names are not checked here: the host applies its one rule (plugin-sdk/check-name) to
// the names `checks` lists, as for every plugin, and refuses the others by name.
let registered = new Map();

function check(name, description, fn) {
  if (typeof description === 'function') {
    [fn, description] = [description, undefined];
  }
  if (typeof name !== 'string' || typeof fn !== 'function') {
    throw new TypeError("check(name, [description], fn): name is a string, fn a function of ctx");
  }
  registered.set(name, { fn, description: description == null ? null : String(description) });
}

// What a value is, for an error message: `a Promise`, `an object`, `a function`.
function kind(value) {
  if (value === null || value === undefined) return String(value);
  if (typeof value.then === 'function') return 'a Promise';
  const type = typeof value;
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

// A badge's texts are strings; numbers and booleans are written as text.
function textOf(what, value) {
  if (['string', 'number', 'boolean', 'bigint'].includes(typeof value)) return String(value);
  throw new TypeError(`shield(): ${what} is a string or a number, not ${kind(value)}`);
}

class Shield {
  constructor(status, { color, label } = {}) {
    this.status = textOf('status', status);
    this.color = color == null ? null : textOf('color', color);
    this.label = label == null ? null : textOf('label', label);
  }
}

function shield(status, options) {
  return new Shield(status, options);
}

const LEVELS = { debug: 'debug', info: 'info', warn: 'warn', warning: 'warn', error: 'error' };

function text(args) {
  return args
    .map((a) => (typeof a === 'string' ? a : a instanceof Error ? String(a) : safeJson(a)))
    .join(' ');
}

function safeJson(value) {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function log(message, level = 'info') {
  const wit = LEVELS[level];
  if (!wit) throw new TypeError(`log level must be debug, info, warn or error; not ${level}`);
  logging.log(wit, String(message));
}

const console = {
  log: (...args) => logging.log('info', text(args)),
  info: (...args) => logging.log('info', text(args)),
  debug: (...args) => logging.log('debug', text(args)),
  warn: (...args) => logging.log('warn', text(args)),
  error: (...args) => logging.log('error', text(args)),
};

class HttpError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = 'HttpError';
    this.kind = kind;
  }
}

// QuickJS has no TextDecoder: UTF-8 by hand (invalid sequences become U+FFFD).
function utf8(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    const need = b < 0x80 ? 0 : b >= 0xf0 && b < 0xf8 ? 3 : b >= 0xe0 ? 2 : b >= 0xc0 ? 1 : -1;
    if (need === 0) {
      out += String.fromCharCode(b);
      i += 1;
      continue;
    }
    if (need < 0 || i + need >= bytes.length) {
      out += '\ufffd';
      i += 1;
      continue;
    }
    let cp = b & (0x3f >> need);
    let ok = true;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if ((c & 0xc0) !== 0x80) ok = false;
      cp = (cp << 6) | (c & 0x3f);
    }
    out += ok ? String.fromCodePoint(cp) : '\ufffd';
    i += ok ? need + 1 : 1;
  }
  return out;
}

const http = {
  // GET `url`; resolves to { status, headers, body (Uint8Array), text(), json() } or
  // throws HttpError (kind: denied, timeout, body-too-large, failed).
  get(url, headers = {}) {
    let answer;
    try {
      answer = wasiHttp.get(String(url), Object.entries(headers).map(([k, v]) => [String(k), String(v)]));
    } catch (err) {
      const reason = err && typeof err === 'object' && 'payload' in err ? err.payload : err;
      const tag = reason && reason.tag;
      const messages = {
        denied: () => `HTTP GET ${url} denied: ${reason.val}`,
        timeout: () => `HTTP GET ${url}: no answer before the deadline`,
        'body-too-large': () => `HTTP GET ${url}: body longer than ${reason.val} bytes`,
        failed: () => `HTTP GET ${url}: ${reason.val}`,
      };
      if (tag in messages) throw new HttpError(tag, messages[tag]());
      throw new HttpError('failed', `HTTP GET ${url}: ${String(reason)}`);
    }
    const body = answer.body instanceof Uint8Array ? answer.body : new Uint8Array(answer.body);
    return {
      status: answer.status,
      headers: Object.fromEntries(answer.headers),
      body,
      text: () => utf8(body),
      json: () => JSON.parse(utf8(body)),
    };
  },
};

function noModules(name) {
  throw new Error(
    `require('${name}'): kube-shields checks have no modules, no filesystem and no sockets; ` +
      'use the context, and http.get(url) for HTTP',
  );
}

Object.assign(globalThis, { check, shield, http, log, console, HttpError, require: noModules });
// StarlingMonkey has a `fetch` over wasi:http; one way out keeps one set of rules.
delete globalThis.fetch;

// Where an error happened in the script: `web.js:12`, from the engine's stack text.
function where(fileName, err) {
  const stack = err && typeof err === 'object' ? String(err.stack ?? '') : '';
  const escaped = fileName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // QuickJS names evaluated code `<input>` (it ignores sourceURL); the first frame there
  // is the deepest one in the script.
  const match =
    stack.match(new RegExp(`${escaped}:(\\d+)`)) ??
    stack.match(/<input>:(\d+)/) ??
    (err && err.lineNumber ? [null, err.lineNumber] : null);
  const what = err instanceof Error ? `${err.name}: ${err.message}` : `uncaught ${safeJson(err)}`;
  return `${match ? `${fileName}:${match[1]}` : fileName}: ${what}`;
}

function load() {
  const source = script.source();
  const fileName = source.fileName;
  registered = new Map();
  try {
    // Indirect eval: global scope, the author's API as globals; sourceURL names the file
    // in stack traces.
    (0, eval)(`${source.text}\n//# sourceURL=${fileName}`);
  } catch (err) {
    script.fail(where(fileName, err));
  }
  return fileName;
}

function pairs(list) {
  return Object.fromEntries(list);
}

function pod(p) {
  const containers = p.containers.map((c) => ({
    name: c.name,
    image: c.image,
    ready: c.ready,
    restartCount: c.restartCount,
    state: c.state,
    reason: c.reason ?? null,
  }));
  return {
    name: p.name,
    namespace: p.namespace,
    phase: p.phase,
    podIp: p.podIp ?? null,
    podIps: [...p.podIps],
    nodeName: p.nodeName ?? null,
    labels: pairs(p.labels),
    annotations: pairs(p.annotations),
    created: p.created ? new Date(p.created) : null,
    containers,
    ready: containers.length > 0 && containers.every((c) => c.ready),
    restarts: containers.reduce((sum, c) => sum + c.restartCount, 0),
  };
}

// s64 arrives as a BigInt; generations and replica counts fit a Number.
function int(value) {
  return value === undefined || value === null ? null : Number(value);
}

function controller(c) {
  const conditions = c.conditions.map((x) => ({
    type: x.type,
    status: x.status,
    reason: x.reason ?? null,
    message: x.message ?? null,
  }));
  return {
    kind: c.kind,
    name: c.name,
    namespace: c.namespace,
    generation: int(c.generation),
    observedGeneration: int(c.observedGeneration),
    replicas: int(c.replicas),
    conditions,
    rolloutStatus: c.rolloutStatus,
    rolloutMessage: c.rolloutMessage,
    condition: (type) => conditions.find((x) => x.type === type) ?? null,
  };
}

// The check's context; `controllers` is asked of the host the first time the check reads it.
function context(ctx) {
  let controllers;
  return {
    service: ctx.service,
    pods: ctx.pods.map(pod),
    config: pairs(ctx.config),
    get controllers() {
      controllers ??= workload.controllers().map(controller);
      return controllers;
    },
  };
}

function outcome(name, value) {
  if (value instanceof Shield) {
    return { tag: 'shield', val: { label: value.label, status: value.status, color: value.color } };
  }
  if (value === undefined || value === null) {
    throw `check \`${name}\` returned ${value}; return a value or shield(...)`;
  }
  if (typeof value.then === 'function') {
    // An `async` check: whatever it awaited, and any error it raised, never arrive.
    throw (
      `check \`${name}\` returned a Promise: checks are synchronous (no async, no await); ` +
      'http.get(url) returns the response itself'
    );
  }
  if (typeof value === 'function' || typeof value === 'symbol') {
    throw `check \`${name}\` returned ${kind(value)}; return a value or shield(...)`;
  }
  return { tag: 'raw', val: typeof value === 'string' ? value : safeJson(value) };
}

export const checks = {
  listChecks() {
    load();
    return [...registered].map(([name, { description }]) => ({ name, description }));
  },

  runCheck(name, ctx) {
    const fileName = load();
    const entry = registered.get(name);
    if (!entry) throw `${fileName} has no check \`${name}\``;
    let value;
    try {
      value = entry.fn(context(ctx));
    } catch (err) {
      throw where(fileName, err);
    }
    return outcome(name, value);
  },
};
