/**
 * bucketdesk uploader: the browser half of the upload component (Streamlit components v2).
 * The browser only ever holds a signed POST policy (a "grant"); it never sees credentials.
 *
 * Python -> JS `data`:
 *   {maxBytes, accept, concurrency,
 *    grants:   {fileId: {kind: "post", url, fields, key, expiresAt, signSeq} | {refused: "sentence"}},
 *    verified: {fileId: {ok, message, signSeq}}}
 * JS -> Python triggers, both cumulative and idempotent (see lib/components/uploader/__init__.py):
 *   sign {files: [{id, name, size, type, lastModified, signSeq}]}  every file still waiting for a
 *        grant, with the signSeq it holds (0 = none; holding the current one asks for a fresh one)
 *   done {results: [{id, signSeq, ok, status, key, etag, bytes, ms, code, message, s3Message}]}
 *        every result `verified` has not yet acknowledged (verified[id].signSeq >= result.signSeq)
 * Streamlit keeps only the last value of a trigger per script run and drops the older trigger when
 * two reruns queue up, hence cumulative payloads, re-sent until answered. And each trigger starts a
 * new script run that stops the previous one (runner.fastReruns), possibly in the middle of its
 * callbacks, so after a trigger the next one waits for fresh `data` (that run is through its
 * callbacks) or GATE_MS.
 *
 * How Streamlit 1.67 runs this module: the default export is called again on every change of `data`
 * (and of the theme) with the SAME parentElement (the shadow root) while the element stays mounted.
 * So state lives in `instances`, keyed by parentElement; the DOM is built once and updated in place;
 * handlers are assigned as properties (el.onclick) so re-runs never stack them. Only the last
 * returned cleanup is called, on unmount.
 */

const RENEW_MARGIN_MS = 10_000; // a queued grant this close to expiry is renewed before use
const STALL_MS = 60_000;        // no upload progress for this long counts as a timeout
const STUCK_SIGN_MS = 15_000;   // after this long without a grant, offer Retry
const BATCH_MS = 60;            // changes within this window go out in one trigger
const GATE_MS = 2_000;          // after a trigger, wait this long for fresh data before the next
const RESEND_MS = [3_000, 6_000, 12_000, 30_000, 30_000, 60_000, 120_000]; // then give up until the next change
const SUCCESS = new Set([200, 201, 204]);
const ACTIVE = ["signing", "queued", "uploading"]; // states on the way to the bucket

const instances = new WeakMap(); // parentElement -> instance
const live = new Set();          // mounted instances, for the leave-page warning

export default function uploader({ data, parentElement, setTriggerValue }) {
  let inst = instances.get(parentElement);
  if (!inst) {
    inst = newInstance(parentElement);
    instances.set(parentElement, inst);
    live.add(inst);
  }
  inst.data = data && typeof data === "object" ? data : {};
  inst.setTrigger = setTriggerValue;
  inst.gateUntil = 0; // fresh data: the run our last trigger started is through its callbacks
  buildShell(inst);
  applyData(inst);
  pump(inst);
  render(inst);
  if (inst.pendingFlush) { // it was waiting for this data
    clearTimeout(inst.flushTimer);
    inst.flushTimer = 0;
    scheduleFlush(inst, BATCH_MS);
  }
  // Streamlit may call a cleanup while the element stays mounted (a data change racing the module
  // import), so only tear down once the host has really left the document.
  return () => setTimeout(() => {
    if (!(parentElement.host || parentElement).isConnected) destroy(inst);
  }, 0);
}

function newInstance(parentElement) {
  return {
    parentElement, data: {}, setTrigger: null, files: new Map(), outbox: new Map(), els: null,
    flushTimer: 0, pendingFlush: false, gateUntil: 0, lastSentAt: 0, resendStep: 0,
    renderTimer: 0, ticker: 0, dragDepth: 0, sentCounter: 0, speedSamples: [], speed: 0,
  };
}

// ---- Files, grants, verdicts --------------------------------------------------------------------

function addFiles(inst, files) {
  for (const file of files) {
    const id = newFileId();
    inst.files.set(id, {
      id, file, name: file.name, size: file.size, type: file.type || "", lastModified: file.lastModified,
      state: "signing", signAt: Date.now(), heldSeq: 0, grant: null, grantAt: 0, xhr: null,
      abortReason: null, sent: 0, bodySent: false, startedAt: 0, endedAt: 0, lastProgressAt: 0,
      message: "", verdict: null, row: null,
    });
  }
  changed(inst);
}

/** 24 hex chars from getRandomValues (crypto.randomUUID is missing on plain-http origins). */
function newFileId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
}

const seqOf = (grant) => Number(grant?.signSeq ?? 0);

/** Ask Python for a grant newer than the one the file holds (none, expired, or already used). */
function askForGrant(inst, e) {
  Object.assign(e, { state: "signing", signAt: Date.now(), heldSeq: seqOf(e.grant), sent: 0, bodySent: false, message: "", verdict: null });
}

function applyData(inst) {
  const grants = inst.data.grants || {};
  const verified = inst.data.verified || {};
  // A result is answered once `verified` judged its grant, or moot once Python replaced that grant.
  for (const [id, result] of inst.outbox) {
    const v = verified[id];
    if ((v && Number(v.signSeq ?? result.signSeq) >= result.signSeq) || seqOf(grants[id]) > result.signSeq) inst.outbox.delete(id);
  }
  for (const e of inst.files.values()) {
    const g = grants[e.id];
    if (g && g.refused && e.state === "signing") {
      Object.assign(e, { state: "refused", message: String(g.refused) });
      announce(inst, `${e.name} refused: ${e.message}`);
    } else if (g && g.kind === "post" && g.url && seqOf(g) > seqOf(e.grant)) {
      e.grant = g;
      e.grantAt = Date.now();
    }
    if (e.state === "signing" && seqOf(e.grant) > e.heldSeq) e.state = "queued";
    // A verdict on this file's latest attempt. "ok" wins even over a browser-side failure: the
    // object may have landed although the response was lost (e.g. a CORS rule without this origin).
    const v = verified[e.id];
    if (!v || e.state === "uploading" || Number(v.signSeq ?? seqOf(e.grant)) < seqOf(e.grant)) continue;
    if (e.verdict && e.verdict.ok === v.ok && e.verdict.message === v.message) continue;
    if (v.ok || e.state === "done") {
      Object.assign(e, { verdict: v, state: "done", sent: e.size });
      announce(inst, v.ok ? `${e.name} verified` : `${e.name}: ${v.message}`);
    }
  }
}

/** A queued grant is renewed when (nearly) expired by our clock, unless it only just arrived:
 * then the browser's clock is off, and the bucket is the judge. */
function grantExpiring(e) {
  const now = Date.now();
  return now > Number(e.grant.expiresAt) - RENEW_MARGIN_MS && now - e.grantAt > RENEW_MARGIN_MS;
}

// ---- Uploading ----------------------------------------------------------------------------------

/** Start queued uploads while there is a free slot. */
function pump(inst) {
  const limit = Math.max(1, Math.min(16, Math.floor(Number(inst.data.concurrency)) || 3));
  let active = countState(inst, "uploading");
  let renewed = false;
  for (const e of inst.files.values()) {
    if (active >= limit) break;
    if (e.state !== "queued") continue;
    if (grantExpiring(e)) {
      askForGrant(inst, e);
      renewed = true;
    } else {
      startUpload(inst, e);
      active++;
    }
  }
  if (renewed) changed(inst);
}

function startUpload(inst, e) {
  const grant = e.grant;
  const form = new FormData();
  for (const [name, value] of Object.entries(grant.fields || {})) form.append(name, String(value));
  form.append("file", e.file); // S3 ignores every field after the file, so it goes last
  const xhr = new XMLHttpRequest();
  Object.assign(e, { state: "uploading", xhr, abortReason: null, sent: 0, bodySent: false, message: "", verdict: null });
  e.startedAt = e.lastProgressAt = Date.now();
  xhr.open("POST", grant.url, true);
  xhr.withCredentials = false;
  xhr.upload.onprogress = (ev) => {
    if (e.xhr !== xhr || !ev.lengthComputable || !ev.total) return;
    // ev.total counts the whole multipart body; scale to the file's own bytes.
    const sent = Math.min(e.size, Math.floor((ev.loaded / ev.total) * e.size));
    inst.sentCounter += Math.max(0, sent - e.sent);
    e.sent = Math.max(e.sent, sent);
    e.bodySent = ev.loaded >= ev.total;
    e.lastProgressAt = Date.now();
    scheduleRender(inst);
  };
  xhr.onload = () => finishUpload(inst, e, xhr, "load");
  xhr.onerror = () => finishUpload(inst, e, xhr, "error");
  xhr.onabort = () => finishUpload(inst, e, xhr, "abort");
  xhr.send(form);
  ensureTicker(inst);
}

function finishUpload(inst, e, xhr, how) {
  if (e.xhr !== xhr) return; // stale: already finished or replaced
  e.xhr = null;
  e.endedAt = Date.now();
  if (e.abortReason === "teardown") return; // the page is gone; nobody to tell
  const result = newResult(e, { status: how === "load" ? xhr.status : 0, bytes: e.sent, ms: e.endedAt - e.startedAt });
  if (how === "load" && SUCCESS.has(xhr.status)) {
    const doc = parseXml(xhr.responseText);
    inst.sentCounter += e.size - e.sent;
    const etag = xmlText(doc, "ETag") || exposedHeader(xhr, "ETag");
    Object.assign(result, { ok: true, bytes: e.size, key: xmlText(doc, "Key") || e.grant.key, etag });
    Object.assign(e, { state: "done", sent: e.size, message: "" });
    announce(inst, `${e.name} uploaded`);
  } else {
    Object.assign(result, describeFailure(e, xhr, how));
    Object.assign(e, { state: result.code === "Cancelled" ? "cancelled" : "failed", message: result.message });
    if (e.state === "failed") announce(inst, `${e.name} failed: ${e.message}`);
  }
  inst.outbox.set(e.id, result);
  pump(inst);
  changed(inst);
}

function cancel(inst, e) {
  if (e.state === "uploading" && e.xhr) { e.abortReason = "cancel"; e.xhr.abort(); return; } // finishUpload reports it
  if (e.state !== "signing" && e.state !== "queued") return;
  const hadGrant = e.state === "queued";
  Object.assign(e, { state: "cancelled", message: "You cancelled this upload." });
  // Tell Python the grant it handed out will not be used.
  if (hadGrant) inst.outbox.set(e.id, newResult(e, { code: "Cancelled", message: e.message }));
  changed(inst);
}

/** One entry of `done`: about the file's current grant, a failure unless said otherwise. */
function newResult(e, fields) {
  return {
    id: e.id, signSeq: seqOf(e.grant), ok: false, status: 0, key: e.grant.key, etag: null,
    bytes: 0, ms: 0, code: null, message: null, s3Message: null, ...fields,
  };
}

/** Every retry gets a fresh grant: Python judges each grant (signSeq) once. */
function retry(inst, e) {
  if (!["failed", "cancelled", "signing"].includes(e.state)) return;
  if (e.state === "signing") e.signAt = Date.now(); // asking again for the same grant
  else askForGrant(inst, e);
  inst.resendStep = 0;
  changed(inst);
}

// ---- Turning the bucket's answer into a sentence ------------------------------------------------

function describeFailure(e, xhr, how) {
  const host = hostOf(e.grant.url);
  if (how === "abort" && e.abortReason === "timeout") {
    const message = `The upload to ${host} timed out: nothing moved for ${STALL_MS / 1000} seconds. `;
    return { code: "NetworkError", message: message + "Check the connection and that the endpoint is reachable, then press Retry." };
  }
  if (how === "abort") return { code: "Cancelled", message: "You cancelled this upload." };
  if (how === "error" || xhr.status === 0) {
    const message = `Could not reach the bucket at ${host}. Check that the bucket's CORS rule allows this site `;
    return { code: "NetworkError", message: message + `(${location.origin}) and that the endpoint is reachable.` };
  }
  const doc = parseXml(xhr.responseText);
  const code = xmlText(doc, "Code");
  const s3Message = xmlText(doc, "Message");
  return { code: code || `HTTP${xhr.status}`, s3Message, message: explainS3Error(e, xhr.status, code, s3Message || "", doc) };
}

function explainS3Error(e, status, code, msg, doc) {
  if (code === "EntityTooLarge" || code === "EntityTooSmall" || (!code && status === 413)) {
    const seen = Number(xmlText(doc, "ProposedSize"));
    const detail = seen ? `the bucket saw ${humanBytes(seen)}, ${humanBytes(e.size)} was signed` : `${humanBytes(e.size)} was signed`;
    return `The bucket refused the file: its size is not the size that was signed (${detail}). `
      + "If the file changed since you chose it, choose it again.";
  }
  if (code === "AccessDenied" && /policy expired/i.test(msg)) {
    return "The upload permission expired before the upload started. Press Retry to get a new one.";
  }
  if (code === "ExpiredToken") return "The credentials behind the upload permission expired. Press Retry to get a new one.";
  if (code === "AccessDenied" && /policy condition failed/i.test(msg)) {
    const field = failedConditionField(msg);
    return field ? `The bucket refused: ${field} does not match what was signed.` : `The bucket refused: a signed condition did not match (${msg}).`;
  }
  if (code === "SignatureDoesNotMatch") {
    return "The bucket refused the upload: the signature was rejected (the grant was altered or the server's clock is wrong).";
  }
  if (code === "InvalidPolicyDocument") {
    return `The bucket could not read the upload permission (${msg || code}). Press Retry; if it happens again, tell whoever runs this app.`;
  }
  if (["SlowDown", "ServiceUnavailable", "InternalError"].includes(code) || status === 503 || status === 500) {
    return "The bucket is busy. Retry in a moment.";
  }
  if (code === "RequestTimeout") return "The bucket stopped waiting for the file's data. Check the connection, then press Retry.";
  return code ? `The bucket refused the upload: ${code}: ${msg}` : `The bucket refused the upload: HTTP ${status}.`;
}

/** `…Policy Condition failed: ["eq", "$Content-Type", "image/png"]` -> "Content-Type". */
function failedConditionField(msg) {
  const m = /Policy Condition failed:\s*(\[.*\]|\{.*\})/i.exec(msg);
  if (!m) return null;
  try {
    const cond = JSON.parse(m[1]);
    const field = Array.isArray(cond) ? cond[1] : Object.keys(cond)[0];
    return typeof field === "string" ? field.replace(/^\$/, "") : null;
  } catch {
    return /"\$([^"]+)"/.exec(m[1])?.[1] ?? null;
  }
}

function parseXml(text) {
  if (!text || !text.trim().startsWith("<")) return null;
  const doc = new DOMParser().parseFromString(text, "application/xml");
  return doc.getElementsByTagName("parsererror").length ? null : doc;
}

function xmlText(doc, tag) {
  const node = doc && doc.getElementsByTagName(tag)[0];
  return node ? node.textContent.trim() : null;
}

/** A response header, only if CORS exposes it (asking for a hidden one logs a console error). */
function exposedHeader(xhr, name) {
  return xhr.getAllResponseHeaders().toLowerCase().includes(`${name.toLowerCase()}:`) ? xhr.getResponseHeader(name) : null;
}

function hostOf(url) {
  try { return new URL(url, location.href).host; } catch { return String(url); }
}

// ---- Talking to Python --------------------------------------------------------------------------

const waitingFiles = (inst) => [...inst.files.values()].filter((e) => e.state === "signing");

/** Something new to say: send soon, and restart the resend back-off. */
function changed(inst) {
  inst.resendStep = 0;
  scheduleFlush(inst, BATCH_MS);
  ensureTicker(inst);
  render(inst);
}

function scheduleFlush(inst, delay) {
  inst.pendingFlush = true;
  if (!inst.flushTimer) inst.flushTimer = setTimeout(() => flushTriggers(inst), delay);
}

/** Send everything still unanswered: one `sign` and one `done`, each listing all of it. */
function flushTriggers(inst) {
  inst.flushTimer = 0;
  if (!inst.setTrigger) return;
  const wait = inst.gateUntil - Date.now();
  if (wait > 0) return scheduleFlush(inst, wait); // or sooner, when data arrives
  inst.pendingFlush = false;
  const waiting = waitingFiles(inst);
  if (inst.outbox.size) inst.setTrigger("done", { results: [...inst.outbox.values()] });
  if (waiting.length) {
    inst.setTrigger("sign", {
      files: waiting.map((e) => ({ id: e.id, name: e.name, size: e.size, type: e.type, lastModified: e.lastModified, signSeq: e.heldSeq })),
    });
  }
  if (inst.outbox.size || waiting.length) {
    inst.lastSentAt = Date.now();
    inst.gateUntil = inst.lastSentAt + GATE_MS;
  }
}

// ---- Timers, teardown ---------------------------------------------------------------------------

/** Once a second while anything is pending: speed, stalled uploads, unanswered triggers. */
function ensureTicker(inst) {
  if (inst.ticker) return;
  inst.ticker = setInterval(() => {
    const now = Date.now();
    inst.speedSamples = [...inst.speedSamples.slice(-5), [now, inst.sentCounter]]; // the last ~5 s
    const [t0, b0] = inst.speedSamples[0];
    inst.speed = now > t0 ? ((inst.sentCounter - b0) * 1000) / (now - t0) : 0;
    let busy = inst.outbox.size > 0 && inst.resendStep < RESEND_MS.length;
    for (const e of inst.files.values()) {
      if (e.state === "uploading" && e.xhr && now - e.lastProgressAt > STALL_MS) { e.abortReason = "timeout"; e.xhr.abort(); }
      busy ||= ACTIVE.includes(e.state);
    }
    const unanswered = inst.outbox.size > 0 || waitingFiles(inst).length > 0;
    if (unanswered && !inst.flushTimer && inst.resendStep < RESEND_MS.length && now - inst.lastSentAt >= RESEND_MS[inst.resendStep]) {
      inst.resendStep++;
      flushTriggers(inst);
    }
    if (!busy) {
      clearInterval(inst.ticker);
      Object.assign(inst, { ticker: 0, speedSamples: [], speed: 0 });
    }
    render(inst);
  }, 1000);
}

function destroy(inst) {
  for (const e of inst.files.values()) if (e.xhr) { e.abortReason = "teardown"; e.xhr.abort(); }
  [inst.ticker, inst.flushTimer, inst.renderTimer].forEach(clearTimeout); // clearTimeout clears intervals too
  live.delete(inst);
  instances.delete(inst.parentElement);
}

// Leaving the page stops uploads: ask first.
window.addEventListener("beforeunload", (ev) => {
  const busy = [...live].some((inst) => [...inst.files.values()].some((e) => ACTIVE.includes(e.state)));
  if (busy) { ev.preventDefault(); ev.returnValue = ""; }
});

// ---- DOM: built once, then updated in place -----------------------------------------------------
// File names (and every other string from outside) only ever go through textContent or attributes.

function el(tag, className, attrs = {}, text = null) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== null) node.textContent = text;
  return node;
}

function buildShell(inst) {
  let root = inst.parentElement.querySelector(".bd-uploader");
  if (!root) root = inst.parentElement.appendChild(el("div", "bd-uploader"));
  if (inst.els && inst.els.root === root) return; // already built: keep everything in flight
  root.replaceChildren();
  const zone = el("div", "bd-drop", { role: "group", "aria-label": "Upload files" });
  const text = el("div", "bd-drop-text");
  const hintId = `bd-hint-${newFileId()}`;
  const hint = el("div", "bd-drop-hint", { id: hintId });
  const choose = el("button", "bd-btn bd-btn-choose", { type: "button", "aria-describedby": hintId }, "Choose files");
  const input = el("input", "bd-input", { type: "file", multiple: "", hidden: "", tabindex: "-1", "aria-label": "Choose files to upload" });
  text.append(el("div", "bd-drop-title", {}, "Drag and drop files here"), hint);
  zone.append(uploadIcon(), text, choose, input);
  const notice = el("div", "bd-notice", { role: "status" });
  const summary = el("div", "bd-summary");
  const totalText = el("div", "bd-total", { "aria-live": "polite" });
  const clear = el("button", "bd-btn bd-btn-small", { type: "button" }, "Clear finished");
  summary.append(totalText, clear);
  const totalBar = el("div", "bd-bar bd-bar-total", { role: "progressbar", "aria-label": "Total upload progress", "aria-valuemin": "0", "aria-valuemax": "100" });
  totalBar.append(el("div", "bd-bar-fill"));
  const list = el("ul", "bd-list", { "aria-label": "Files to upload" });
  const sr = el("div", "bd-sr", { "aria-live": "polite" });
  root.append(zone, notice, summary, totalBar, list, sr);

  choose.onclick = (ev) => { ev.stopPropagation(); input.click(); };
  zone.onclick = (ev) => { if (ev.target !== input) input.click(); }; // the whole zone is a target
  input.onchange = () => { addFiles(inst, Array.from(input.files || [])); input.value = ""; };
  const carriesFiles = (ev) => Array.from(ev.dataTransfer?.types || []).includes("Files");
  const dragging = (depth) => zone.classList.toggle("bd-dragging", (inst.dragDepth = Math.max(0, depth)) > 0);
  zone.ondragenter = (ev) => { if (carriesFiles(ev)) { ev.preventDefault(); dragging(inst.dragDepth + 1); } };
  zone.ondragover = (ev) => { if (carriesFiles(ev)) { ev.preventDefault(); ev.dataTransfer.dropEffect = "copy"; } };
  zone.ondragleave = () => dragging(inst.dragDepth - 1);
  zone.ondrop = (ev) => { ev.preventDefault(); dragging(0); addFiles(inst, droppedFiles(inst, ev.dataTransfer)); };
  clear.onclick = () => {
    for (const e of [...inst.files.values()]) if (e.state === "done" || e.state === "refused") removeFile(inst, e);
    render(inst);
  };
  inst.els = { root, input, hint, notice, totalText, totalBar, summary, clear, list, sr };
  for (const e of inst.files.values()) e.row = null; // the HTML was replaced: rebuild rows
}

/** Files from a drop. Folders cannot be uploaded as such: say so rather than fail later. */
function droppedFiles(inst, dt) {
  const files = [];
  let folders = 0;
  for (const item of Array.from(dt?.items || [])) {
    if (item.kind !== "file") continue;
    if (item.webkitGetAsEntry?.()?.isDirectory) { folders++; continue; }
    const f = item.getAsFile();
    if (f) files.push(f);
  }
  if (!files.length && !folders) files.push(...Array.from(dt?.files || []));
  const skipped = folders === 1 ? "A folder was" : `${folders} folders were`;
  inst.els.notice.textContent = folders ? `${skipped} skipped: open the folder and choose the files inside.` : "";
  return files;
}

/** Forget a finished file (its result, if unanswered, stays in the outbox). */
function removeFile(inst, e) {
  e.row?.li.remove();
  inst.files.delete(e.id);
}

function uploadIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const [svg, path] = [document.createElementNS(ns, "svg"), document.createElementNS(ns, "path")];
  for (const [k, v] of [["viewBox", "0 0 24 24"], ["class", "bd-icon"], ["aria-hidden", "true"]]) svg.setAttribute(k, v);
  path.setAttribute("d", "M19.35 10.04A7.49 7.49 0 0 0 12 4C9.11 4 6.6 5.64 5.35 8.04A5.994 5.994 0 0 0 0 14c0 3.31 2.69 6 6 6h13c2.76 0 5-2.24 5-5 0-2.64-2.05-4.78-4.65-4.96zM14 13v4h-4v-4H7l5-5 5 5h-3z");
  svg.append(path);
  return svg;
}

function buildRow(inst, e) {
  const li = el("li", "bd-row");
  const head = el("div", "bd-row-head");
  const status = el("span", "bd-status");
  const button = (label, aria, extra = "") => el("button", `bd-btn bd-btn-small ${extra}`, { type: "button", "aria-label": aria }, label);
  const cancelBtn = button("Cancel", `Cancel upload of ${e.name}`);
  const retryBtn = button("Retry", `Retry upload of ${e.name}`);
  const removeBtn = button("Remove", `Remove ${e.name} from the list`, "bd-btn-quiet");
  cancelBtn.onclick = () => cancel(inst, e);
  retryBtn.onclick = () => retry(inst, e);
  removeBtn.onclick = () => { removeFile(inst, e); render(inst); };
  const actions = el("span", "bd-actions");
  actions.append(removeBtn, retryBtn, cancelBtn); // Retry takes Cancel's place, never Remove
  head.append(el("span", "bd-name", { title: e.name }, e.name), el("span", "bd-size", {}, humanBytes(e.size)), status, actions);
  const bar = el("div", "bd-bar", { role: "progressbar", "aria-label": `Upload progress of ${e.name}`, "aria-valuemin": "0", "aria-valuemax": "100" });
  bar.append(el("div", "bd-bar-fill"));
  const detail = el("div", "bd-detail");
  li.append(head, bar, detail);
  inst.els.list.append(li);
  return { li, status, bar, detail, cancelBtn, retryBtn, removeBtn };
}

function scheduleRender(inst) {
  if (!inst.renderTimer) inst.renderTimer = setTimeout(() => { inst.renderTimer = 0; render(inst); }, 100);
}

function render(inst) {
  if (!inst.els) return;
  const { hint, input, totalText, totalBar, summary, clear } = inst.els;
  const accept = typeof inst.data.accept === "string" ? inst.data.accept : "";
  if (accept) input.setAttribute("accept", accept); else input.removeAttribute("accept");
  const limits = [];
  if (Number(inst.data.maxBytes) > 0) limits.push(`Up to ${humanBytes(Number(inst.data.maxBytes))} per file`);
  if (accept) limits.push(accept.split(",").map((s) => s.trim()).filter(Boolean).join(", "));
  hint.textContent = limits.join(" · ");
  const now = Date.now();
  const n = { done: 0, "not accepted": 0, failed: 0, refused: 0, cancelled: 0, moving: 0 };
  let total = 0, sent = 0; // over files that arrived or are on their way
  for (const e of inst.files.values()) {
    renderRow(inst, e, now);
    const moving = ACTIVE.includes(e.state);
    n[moving ? "moving" : e.verdict?.ok === false ? "not accepted" : e.state]++;
    if (moving || e.state === "done") {
      total += e.size;
      sent += e.state === "done" ? e.size : e.sent;
    }
  }
  summary.hidden = totalBar.hidden = inst.files.size === 0;
  const arrived = n.done + n["not accepted"];
  const pct = n.moving ? Math.min(99, Math.floor((sent / (total || 1)) * 100)) : arrived ? 100 : 0;
  const parts = [`${humanBytes(sent)} of ${humanBytes(total)}`, `${pct} %`];
  if (countState(inst, "uploading") && inst.speed > 0) parts.push(`${humanBytes(inst.speed)}/s`);
  parts.push(`${n.done} done`);
  for (const k of ["not accepted", "failed", "refused", "cancelled"]) if (n[k]) parts.push(`${n[k]} ${k}`);
  if (n.moving) parts.push(`${n.moving} to go`);
  totalText.textContent = parts.join(" · ");
  setBar(totalBar, pct);
  totalBar.dataset.complete = String(!n.moving && n.done > 0);
  clear.disabled = !(arrived + n.refused);
}

function renderRow(inst, e, now) {
  if (!e.row) e.row = buildRow(inst, e);
  const r = e.row;
  const pct = e.state === "done" ? 100 : e.size ? Math.min(99, Math.floor((e.sent / e.size) * 100)) : 0;
  const stuck = e.state === "signing" && now - e.signAt > STUCK_SIGN_MS;
  let label = "", detail = e.message, tone = e.state;
  if (e.state === "signing") {
    label = "Waiting for permission…";
    detail = stuck ? "Still waiting for permission. Press Retry to ask again." : "";
  } else if (e.state === "queued") {
    label = "Queued";
    detail = "Waiting for a free upload slot.";
  } else if (e.state === "uploading") {
    const secs = (now - e.startedAt) / 1000;
    label = e.bodySent ? "Finishing…" : "Uploading";
    detail = `${humanBytes(e.sent)} of ${humanBytes(e.size)} · ${pct} %` + (secs > 0.5 ? ` · ${humanBytes(e.sent / secs)}/s` : "");
  } else if (e.state === "done") {
    const secs = Math.max(0.001, (e.endedAt - e.startedAt) / 1000);
    label = "Uploaded";
    detail = e.endedAt ? `${humanBytes(e.size)} of ${humanBytes(e.size)} · 100 % · ${humanBytes(e.size / secs)}/s · ${secs.toFixed(1)} s` : "";
    if (e.verdict) {
      label = e.verdict.ok ? "Verified" : "Not accepted";
      tone = e.verdict.ok ? "verified" : "rejected";
      detail = String(e.verdict.message || detail);
    }
  } else {
    label = { refused: "Refused", failed: "Failed", cancelled: "Cancelled" }[e.state];
  }
  r.li.dataset.state = tone;
  r.status.textContent = label;
  r.detail.textContent = detail;
  r.detail.hidden = !detail;
  r.bar.hidden = !(e.state === "uploading" || e.state === "done");
  setBar(r.bar, pct);
  r.cancelBtn.hidden = !ACTIVE.includes(e.state);
  r.retryBtn.hidden = !(e.state === "failed" || e.state === "cancelled" || stuck);
  r.removeBtn.hidden = !["refused", "failed", "cancelled", "done"].includes(e.state);
}

function setBar(bar, pct) {
  bar.setAttribute("aria-valuenow", String(pct));
  bar.firstChild.style.width = `${pct}%`;
}

/** Said by screen readers (an aria-live region). */
const announce = (inst, message) => inst.els && (inst.els.sr.textContent = message);
const countState = (inst, state) => [...inst.files.values()].filter((e) => e.state === state).length;

/** 1024-based, one decimal, the same words as Python's human_bytes: "512 bytes", "1.2 MB". */
function humanBytes(bytes) {
  let value = Number(bytes) || 0;
  for (const unit of ["bytes", "KB", "MB", "GB", "TB"]) {
    if (value < 1024 || unit === "TB") return unit === "bytes" ? `${Math.round(value)} bytes` : `${value.toFixed(1)} ${unit}`;
    value /= 1024;
  }
  return `${bytes} bytes`;
}
