/**
 * bucketdesk uploader: the browser half of the upload component (Streamlit components v2).
 * The browser only ever holds signed grants (a POST policy, or presigned part URLs of a multipart
 * upload the server started); it never sees credentials.
 *
 * Python -> JS `data`:
 *   {maxBytes, accept, concurrency,
 *    checksums: "required" | "optional" | "off"   (absent: no checksums are computed)
 *    multipart: {threshold, concurrency, scope}   (absent: every file is one POST)
 *    grants:   {fileId: {kind: "post", url, fields, key, expiresAt, signSeq}
 *                     | {kind: "multipart", key, uploadId, partSize, partCount, checksums, signSeq,
 *                        parts: {n: {size, etag, sha256}}}      (parts already in the bucket)
 *                     | {refused: "sentence"}},
 *    partUrls: {fileId: {n: {seq, url, expiresAt, sha256} | {seq, refused}}},
 *    verified: {fileId: {ok, message, signSeq}},
 *    grantsThrough: "<epoch>:<n>"}   the sign events whose grants this data carries (echoed as `through`)
 * JS -> Python triggers, all cumulative and idempotent (see lib/components/uploader/__init__.py), each
 * with `through`, the last grantsThrough received (grants up to there are held: Python stops re-sending them):
 *   sign  {files: [{id, name, size, type, lastModified, signSeq, sha256?, noChecksum?, uploadId?}]}
 *         every file still waiting for a grant, with the signSeq it holds (0 = none; holding the
 *         current one asks for a fresh one), its SHA-256 (single uploads), or why it has none, and
 *         for a large file the multipart upload remembered for it (localStorage), to resume
 *   parts {requests: [{id, signSeq, parts: [{n, sha256, held}]}]}  every part URL still wanted,
 *         with the part's SHA-256 (the URL signs it) and the seq of the URL held for it (0 = none)
 *   done  {results: [{id, signSeq, ok, status, key, etag, bytes, ms, code, message, s3Message,
 *         parts?: [{n, etag, sha256}]}]}  every result `verified` has not yet acknowledged
 *         (verified[id].signSeq >= result.signSeq); a multipart one completes (ok) or, with code
 *         "Cancelled", aborts the upload
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
// Unanswered events are sent again after these waits, then every RESEND_LAST_MS for as long as
// something is unanswered: the app may be restarting (a deploy), and nothing may stall for good.
const RESEND_MS = [3_000, 6_000, 12_000, 20_000, 30_000];
const RESEND_LAST_MS = 30_000;
const UNREACHABLE_MS = 10_000;  // unanswered this long: say the app is not answering
// A restarted app takes up a single upload from its re-sent report (its records survive the restart);
// one still unknown after the app answered this long (no records: another machine) is sent again.
const ORPHAN_MS = 20_000;
const SUCCESS = new Set([200, 201, 204]);
const MAX_PER_EVENT = 1000;     // files per sign/done event (lib.limits.MAX_FILES_PER_EVENT)
// States on the way to the bucket: hashing (whole-file SHA-256), signing, queued (for a slot),
// checking (a resume: comparing parts in the bucket with the file), uploading, paused (multipart).
const ACTIVE = ["hashing", "signing", "queued", "checking", "uploading", "paused"];
const SLOT_STATES = ["checking", "uploading"]; // states that hold one of the `concurrency` slots
// A browser sends at most this many requests at once to one host over HTTP/1.1 (S3 speaks no HTTP/2); more
// wait in the browser's own queue. With `concurrency` at or above it, up to this many more small files are
// handed to the browser ahead (PIPELINE_MAX_BYTES each, only while every upload in flight is that small, so a
// waiting file never sits long enough to look stalled): a connection that frees takes the next file at
// once, instead of waiting for this page's script, which may be busy drawing rows or reading Streamlit's answer.
const BROWSER_HOST_CONNECTIONS = 6;
const PIPELINE_MAX_BYTES = 1024 * 1024;
const RENDER_MANY = 100;        // past this many files in the list, render less often (scheduleRender)
// Every state a file's upload can be in, and the states it may move to from there: the one place
// that says so. Upload.to() refuses any other move. Derived from what each code path does:
//   signing   waits for a grant (a new file, a retry, a renewal);      -> hashing when checksums need a
//             whole-file SHA-256 first, queued once a grant arrives, refused, cancelled, done (a verdict
//             on a grant held before a restart), failed (a late part refusal of a multipart retry)
//   hashing   reads the file for its SHA-256;                          -> signing, failed (unreadable), cancelled
//   queued    holds a grant, waits for a slot;                         -> uploading, checking (a multipart
//             resume), signing (grant expiring, or the app forgot it), failed (bad plan), cancelled, done
//             (a verdict), queued (a restarted app started the large file over)
//   checking  compares parts in the bucket with the file;              -> uploading, failed, cancelled, done, queued
//   uploading sends the file or its parts;                             -> done, failed, cancelled, paused
//             (multipart), signing (a single upload the app forgot), queued (restarted app, new upload)
//   paused    multipart only;                                          -> queued (Resume), failed, cancelled, done
//   done      sent (verdict may be pending);                           -> done (the verdict), signing (Retry of a
//             rejected completion, or a report the app forgot), queued (restarted app), failed (late part refusal)
//   failed / cancelled  end states a Retry leaves;                     -> signing, done ("ok" wins over a browser-side
//             failure: the object may have landed), queued (restarted app), failed (late part refusal)
//   refused   the server will not sign it; only removed.
const TRANSITIONS = Object.freeze({
  signing: ["hashing", "queued", "refused", "cancelled", "done", "failed"],
  hashing: ["signing", "failed", "cancelled"],
  queued: ["uploading", "checking", "signing", "failed", "cancelled", "done", "queued"],
  checking: ["uploading", "failed", "cancelled", "done", "queued"],
  uploading: ["done", "failed", "cancelled", "paused", "signing", "queued"],
  paused: ["queued", "failed", "cancelled", "done"],
  done: ["done", "signing", "queued", "failed"],
  failed: ["signing", "done", "queued", "failed"],
  cancelled: ["signing", "done", "queued", "failed"],
  refused: [],
});
// A multipart upload's parts: todo -> hashing (its SHA-256) -> hashed (ready: a URL is asked for) ->
// uploading -> done, or back to hashed to be sent again (paused, failed, retried, timed out). Without
// WebCrypto a part goes straight from todo to hashed; a resume's check moves it from todo to done
// (its bytes are in the bucket) or to hashed (ours differ).
const PART_TRANSITIONS = Object.freeze({
  todo: ["hashing", "hashed", "done"],
  hashing: ["hashed"],
  hashed: ["uploading"],
  uploading: ["hashed", "done"],
  done: [],
});
// WebCrypto hashes a whole buffer at once: single uploads up to this size are read into memory to
// hash (files above the multipart threshold are hashed part by part instead).
const HASH_WHOLE_MAX = 512 * 1024 * 1024;
const HASH_PARALLEL = 8;                    // files hashed at once...
const HASH_BUDGET_BYTES = 64 * 1024 * 1024; // ...holding at most this much in memory (or one larger file)
const PART_TRIES = 5;            // attempts per part on network errors, 5xx and SlowDown
const PART_BACKOFF_MS = 1_000;   // first retry after ~1 s, then 2, 4, 8 s (with jitter)
const PART_BACKOFF_MAX_MS = 20_000;
const PART_LOOKAHEAD = 2;        // parts hashed and signed ahead, per part in flight
const RESUME_KEY = "bucketdesk.multipart.v1"; // localStorage: file fingerprint -> upload id
const RESUME_MAX = 200;          // remembered uploads, newest kept
const RETRYABLE_CODES = new Set(["SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling"]);

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
  inst.lastDataAt = Date.now();
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
    renderTimer: 0, ticker: 0, dragDepth: 0, sentCounter: 0, speedSamples: [], speed: 0, hashing: 0, hashingBytes: 0, announcement: "",
    batches: new Map(), batchRows: new Map(), lastDataAt: 0, silentSince: 0, grantsThrough: null,
  };
}

// ---- Files, grants, verdicts --------------------------------------------------------------------

/** One file's upload. Its state is read as `upload.state` and changed only by `upload.to(next)`,
 * which allows just the moves TRANSITIONS lists (the other fields are plain data). */
class Upload {
  #state = "signing";

  constructor(fields) {
    Object.assign(this, fields);
  }

  get state() {
    return this.#state;
  }

  to(next) {
    if (!TRANSITIONS[this.#state]?.includes(next)) throw new Error(`Illegal upload transition ${this.#state} -> ${next}`);
    this.#state = next;
  }

  /** An illegal move is a bug: the file shows it as its failure rather than sit in a wrong state. */
  failFor(error) {
    this.#state = "failed";
    this.message = error.message;
  }
}

/** One part of a multipart upload: the same, with PART_TRANSITIONS. */
class Part {
  #state = "todo";

  constructor(fields) {
    Object.assign(this, fields);
  }

  get state() {
    return this.#state;
  }

  to(next) {
    if (!PART_TRANSITIONS[this.#state]?.includes(next)) {
      throw new Error(`Illegal upload transition ${this.#state} -> ${next} (part ${this.n})`);
    }
    this.#state = next;
  }
}

/** Move `e` to `next` and set `fields` with it; an illegal move fails the file instead (false). */
function move(inst, e, next, fields = {}) {
  try {
    e.to(next);
  } catch (error) {
    return failIllegal(inst, e, error);
  }
  Object.assign(e, fields);
  return true;
}

/** Move part `p` of `e` to `next` and set `fields` with it; an illegal move fails the file (false). */
function movePart(inst, e, p, next, fields = {}) {
  try {
    p.to(next);
  } catch (error) {
    return failIllegal(inst, e, error);
  }
  Object.assign(p, fields);
  return true;
}

function failIllegal(inst, e, error) {
  console.error(error);
  if (e.xhr) { e.abortReason = "failed"; e.xhr.abort(); e.xhr = null; }
  abortParts(e, "failed");
  e.failFor(error);
  announce(inst, `${e.name} failed: ${e.message}`);
  changed(inst);
  return false;
}

/** `items`: Files, or {file, folder, batch} for the files of a dropped or chosen folder. */
function addFiles(inst, items) {
  for (const item of items) {
    const { file, folder = "", batch = null } = item instanceof Blob ? { file: item } : item;
    const id = newFileId();
    const e = new Upload({
      id, file, folder, batch, name: file.name, size: file.size, type: file.type || "", lastModified: file.lastModified,
      signAt: Date.now(), heldSeq: 0, grant: null, grantAt: 0, xhr: null,
      abortReason: null, sent: 0, bodySent: false, startedAt: 0, endedAt: 0, lastProgressAt: 0,
      message: "", verdict: null, row: null,
      sha256: null, noChecksum: null, hashParts: false, mp: null, resumeId: null, resumeNote: "", completing: false, baseSent: 0,
    });
    planChecksums(inst, e);
    inst.files.set(id, e);
  }
  hashNext(inst);
  changed(inst);
}

/** 24 hex chars from getRandomValues (crypto.randomUUID is missing on plain-http origins). */
function newFileId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
}

const seqOf = (grant) => Number(grant?.signSeq ?? 0);

/** Ask Python for a grant newer than the one the file holds (none, expired, or already used). */
function askForGrant(inst, e) {
  move(inst, e, "signing", { signAt: Date.now(), heldSeq: seqOf(e.grant), sent: 0, bodySent: false, message: "", verdict: null });
}

function applyData(inst) {
  // Echoed in every event: Python sends the grants it handed out up to here as {signSeq} from then on.
  if (typeof inst.data.grantsThrough === "string") inst.grantsThrough = inst.data.grantsThrough;
  const grants = inst.data.grants || {};
  const verified = inst.data.verified || {};
  // A result is answered once `verified` judged its grant, or moot once Python replaced that grant.
  for (const [id, result] of inst.outbox) {
    const v = verified[id];
    if ((v && Number(v.signSeq ?? result.signSeq) >= result.signSeq) || seqOf(grants[id]) > result.signSeq) inst.outbox.delete(id);
  }
  for (const e of inst.files.values()) {
    const g = grants[e.id];
    if (g) e.orphanSince = 0;
    if (!g && !verified[e.id] && heldByServer(e)) forgotten(inst, e);
    if (g && g.refused && e.state === "signing") {
      if (move(inst, e, "refused", { message: String(g.refused) })) announce(inst, `${e.name} refused: ${e.message}`);
    } else if (g && (g.kind === "post" || g.kind === "put") && g.url && seqOf(g) > seqOf(e.grant)) {
      e.grant = g;
      e.grantAt = Date.now();
    } else if (g && g.kind === "multipart" && g.uploadId && seqOf(g) > seqOf(e.grant)) {
      acceptMultipartGrant(inst, e, g);
    }
    if (e.state === "signing" && seqOf(e.grant) > e.heldSeq) move(inst, e, "queued");
    if (e.mp) applyPartUrls(inst, e, (inst.data.partUrls || {})[e.id] || {});
    // A verdict on this file's latest attempt. "ok" wins even over a browser-side failure: the
    // object may have landed although the response was lost (e.g. a CORS rule without this origin).
    const v = verified[e.id];
    if (!v || e.state === "uploading" || Number(v.signSeq ?? seqOf(e.grant)) < seqOf(e.grant)) continue;
    if (e.verdict && e.verdict.ok === v.ok && e.verdict.message === v.message) continue;
    if (v.ok || e.state === "done") {
      if (!move(inst, e, "done", { verdict: v, sent: e.size, completing: false, resigning: false, orphanSince: 0 })) continue;
      if (v.ok && e.mp) forgetUpload(inst, e);
      announce(inst, v.ok ? `${e.name} verified` : `${e.name}: ${v.message}`);
    }
  }
}

/** A queued grant is renewed when (nearly) expired by our clock, unless it only just arrived:
 * then the browser's clock is off, and the bucket is the judge. */
function grantExpiring(e) {
  return expiring(e.grant.expiresAt, e.grantAt, Date.now());
}

const expiring = (expiresAt, receivedAt, now) => now > Number(expiresAt) - RENEW_MARGIN_MS && now - receivedAt > RENEW_MARGIN_MS;

// ---- Checksums (WebCrypto) ----------------------------------------------------------------------
// SHA-256 in the browser, so the bucket can check the bytes it receives against the file chosen.
// crypto.subtle exists only in secure contexts (https://, localhost): elsewhere Python is told why.

const canHash = () => Boolean(globalThis.isSecureContext && globalThis.crypto?.subtle);

async function sha256Base64(blob) {
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  let text = "";
  for (const byte of new Uint8Array(digest)) text += String.fromCharCode(byte);
  return btoa(text);
}

const isMultipartSize = (inst, size) => Number(inst.data.multipart?.threshold) > 0 && size > Number(inst.data.multipart.threshold);

/** Decide how a new file is checksummed: whole (single upload), per part (multipart), or not, and why. */
function planChecksums(inst, e) {
  const mode = inst.data.checksums; // "required" | "optional" | "off" | undefined (no checksums)
  const multipart = isMultipartSize(inst, e.size);
  // Parts are hashed even with checksums off: a resume compares them with what is in the bucket.
  e.hashParts = multipart && canHash();
  if (!mode || mode === "off") return;
  if (!canHash()) e.noChecksum = "insecure-context";
  else if (!multipart && e.size > HASH_WHOLE_MAX) e.noChecksum = "too-large";
  else if (!multipart) move(inst, e, "hashing");
}

/** Hash files waiting for their whole-file SHA-256: a few at once (many small files must not wait on
 * each other's reads), within a memory budget (each is read into memory whole). */
function hashNext(inst) {
  for (const e of inst.files.values()) {
    if (inst.hashing >= HASH_PARALLEL) return;
    if (e.state !== "hashing" || e.hashStarted) continue;
    if (inst.hashing > 0 && inst.hashingBytes + e.size > HASH_BUDGET_BYTES) return;
    hashOne(inst, e);
  }
}

function hashOne(inst, e) {
  e.hashStarted = true;
  inst.hashing++;
  inst.hashingBytes += e.size;
  sha256Base64(e.file).then(
    (digest) => {
      if (e.state === "hashing") move(inst, e, "signing", { sha256: digest, signAt: Date.now() });
    },
    () => {
      if (e.state === "hashing") move(inst, e, "failed", { message: unreadable(e) });
    },
  ).finally(() => {
    e.hashStarted = false;
    inst.hashing--;
    inst.hashingBytes -= e.size;
    hashNext(inst);
    changed(inst);
  });
}

const unreadable = (e) => `${e.name} could not be read (was it moved, deleted or changed?). Choose it again.`;

// ---- Uploading ----------------------------------------------------------------------------------

const pipelines = (e) => !e.mp && e.grant?.kind !== "multipart" && e.size <= PIPELINE_MAX_BYTES;

/** Start queued uploads while there is a free slot (and hand small files to the browser's queue ahead). */
function pump(inst) {
  const limit = Math.max(1, Math.min(16, Math.floor(Number(inst.data.concurrency)) || 6));
  let active = 0;
  let allSmall = true;
  for (const e of inst.files.values()) {
    if (!SLOT_STATES.includes(e.state)) continue;
    active++;
    allSmall &&= pipelines(e);
  }
  const ahead = limit >= BROWSER_HOST_CONNECTIONS ? BROWSER_HOST_CONNECTIONS : 0;
  let renewed = false;
  for (const e of inst.files.values()) {
    if (active >= limit + ahead) break;
    if (e.state !== "queued") continue;
    if (active >= limit && !(allSmall && pipelines(e))) break; // only small files go ahead, behind small ones
    if (e.grant.kind === "multipart") {
      startMultipart(inst, e);
      active++;
    } else if (grantExpiring(e)) {
      askForGrant(inst, e);
      renewed = true;
    } else {
      startUpload(inst, e);
      active++;
    }
    allSmall &&= pipelines(e);
  }
  for (const e of inst.files.values()) if (e.state === "uploading" && e.mp) driveParts(inst, e);
  if (renewed) changed(inst);
}

function startUpload(inst, e) {
  const grant = e.grant;
  const xhr = new XMLHttpRequest();
  if (!move(inst, e, "uploading", { xhr, abortReason: null, sent: 0, bodySent: false, message: "", verdict: null })) return;
  e.startedAt = e.lastProgressAt = Date.now();
  xhr.open(grant.kind === "put" ? "PUT" : "POST", grant.url, true);
  xhr.withCredentials = false;
  let body = e.file;
  if (grant.kind === "put") {
    // Exactly the headers the URL signs (Content-Type set here wins over the file's own type), and no
    // other x-amz-* header: the bucket refuses unsigned ones. Content-Length is the file's size.
    for (const [name, value] of Object.entries(grant.headers || {})) xhr.setRequestHeader(name, String(value));
  } else {
    body = new FormData();
    for (const [name, value] of Object.entries(grant.fields || {})) body.append(name, String(value));
    body.append("file", e.file); // S3 ignores every field after the file, so it goes last
  }
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
  xhr.send(body);
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
    if (move(inst, e, "done", { sent: e.size, message: "" })) announce(inst, `${e.name} uploaded`);
  } else {
    Object.assign(result, describeFailure(e, xhr, how));
    const ended = move(inst, e, result.code === "Cancelled" ? "cancelled" : "failed", { message: result.message });
    if (ended && e.state === "failed") announce(inst, `${e.name} failed: ${e.message}`);
  }
  inst.outbox.set(e.id, result);
  pump(inst);
  changed(inst);
}

function cancel(inst, e) {
  if (e.grant?.kind === "multipart" && ["queued", "checking", "uploading", "paused"].includes(e.state)) return cancelMultipart(inst, e);
  if (e.state === "uploading" && e.xhr) { e.abortReason = "cancel"; e.xhr.abort(); return; } // finishUpload reports it
  if (!["hashing", "signing", "queued"].includes(e.state)) return;
  const hadGrant = e.state === "queued";
  if (!move(inst, e, "cancelled", { message: "You cancelled this upload." })) return;
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

function restartFile(inst, e) {
  move(inst, e, "signing", { signAt: Date.now(), message: "", sha256: null, noChecksum: null });
  planChecksums(inst, e);
  hashNext(inst);
}

/** Every retry gets a fresh grant: Python judges each grant (signSeq) once. */
function retry(inst, e) {
  const rejectedPart = e.mp && e.state === "done" && e.verdict && !e.verdict.ok; // a resumable completion failure
  if (!["failed", "cancelled", "signing"].includes(e.state) && !rejectedPart) return;
  if (e.state === "signing") e.signAt = Date.now(); // asking again for the same grant
  else if (!e.grant && e.state === "failed") restartFile(inst, e); // it failed before any grant: reading it
  else askForGrant(inst, e);
  inst.resendStep = 0;
  changed(inst);
}

// ---- Multipart: large files in parts -------------------------------------------------------------
// The server started the upload (its grant names key, upload id, part size and count). Parts are
// hashed a few at a time ahead of the upload, their URLs asked for (each URL signs the part's
// SHA-256), then PUT, `multipart.concurrency` at once, each retried with backoff. When every part
// has its ETag the result goes to Python, which completes the upload. A resume (the grant lists
// parts already in the bucket) first hashes our copy of each listed part: only matching ones count.

/** The file holds a grant the page must still know of (to receive its parts, results or verdict). */
const heldByServer = (e) => Boolean(e.grant && !e.resigning && seqOf(e.grant) > 0
  && (["queued", "checking", "uploading", "paused"].includes(e.state) || (e.state === "done" && !e.verdict)));

/** The page no longer knows this file's grant: the app restarted (a new session). A large file asks
 * again holding its grant and naming its upload: the server continues the same upload (same key) from
 * its records and ListParts, so parts already sent stay sent. A single upload needs nothing new: its
 * grant is still signed, and its report (re-sent until answered) is judged from the server's records,
 * so a file already stored is verified, not stored again. Only a report the answering app still does
 * not know after ORPHAN_MS (its records are gone) sends the file again, under a fresh grant. */
function forgotten(inst, e) {
  if (e.mp && e.grant.kind === "multipart") {
    if (e.resigning) return;
    e.resigning = true;
    e.heldSeq = seqOf(e.grant); // holding the current grant: the server answers with a newer one
    return changed(inst);
  }
  if (!inst.outbox.has(e.id)) return; // still on its way: its report comes when it is done
  const now = Date.now();
  e.orphanSince ||= now;
  if (now - e.orphanSince < ORPHAN_MS) return;
  if (e.xhr) { e.abortReason = "teardown"; e.xhr.abort(); e.xhr = null; }
  inst.outbox.delete(e.id);
  move(inst, e, "signing", { signAt: now, heldSeq: seqOf(e.grant), sent: 0, bodySent: false, message: "", verdict: null, orphanSince: 0 });
  changed(inst);
}

function acceptMultipartGrant(inst, e, g) {
  if (e.resigning) return resumeAfterRestart(inst, e, g);
  e.grant = g;
  e.grantAt = Date.now();
  if (e.state === "cancelled") { // cancelled while the server was starting it: let Python abort it
    inst.outbox.set(e.id, newResult(e, { code: "Cancelled", message: e.message }));
    return;
  }
  e.resumeId = g.uploadId;
  rememberUpload(inst, e, g.uploadId);
}

/** A multipart grant from a restarted app: the same upload continues where it is; another one
 * (the server could not resume it) starts over. */
function resumeAfterRestart(inst, e, g) {
  e.resigning = false;
  e.grant = g;
  e.grantAt = Date.now();
  if (!e.mp || e.mp.uploadId !== g.uploadId) {
    abortParts(e, "failed");
    move(inst, e, "queued", { completing: false, sent: 0 });
    e.mp = null;
    e.resumeId = g.uploadId;
    rememberUpload(inst, e, g.uploadId);
    return;
  }
  e.mp.signSeq = seqOf(g);
  const result = inst.outbox.get(e.id);
  if (result) result.signSeq = seqOf(g); // a finished upload's report, for the page that can judge it
  changed(inst);
}

function newPlan(e, g) {
  const partSize = Number(g.partSize);
  const count = Number(g.partCount);
  const parts = [];
  for (let n = 1; n <= count; n++) {
    const start = (n - 1) * partSize;
    const end = Math.min(e.size, start + partSize);
    parts.push(new Part({
      n, start, end, size: end - start, sha256: null, url: null, urlSeq: 0, urlAt: 0, expiresAt: 0,
      signed: null, wanted: false, tries: 0, retryAt: 0, xhr: null, abortReason: null, sent: 0, etag: null, lastProgressAt: 0,
    }));
  }
  // Hashes computed earlier in this tab (a retry of the same file) are not computed again.
  const known = e.mp && e.mp.count === count && e.mp.partSize === partSize ? e.mp.known : new Map();
  return { uploadId: g.uploadId, signSeq: seqOf(g), partSize, count, parts, known, inBucket: g.parts || {}, checked: false, hashing: false, resumed: 0, unasked: false };
}

function startMultipart(inst, e) {
  const g = e.grant;
  const ok = Number(g.partSize) > 0 && Number(g.partCount) > 0 && Number(g.partCount) <= 10_000;
  if (!ok) return failMultipart(inst, e, { code: "BadPlan", message: "The server's plan for this upload is not usable. Press Retry." });
  if (!e.mp || e.mp.uploadId !== g.uploadId || e.mp.signSeq !== seqOf(g)) e.mp = newPlan(e, g);
  Object.assign(e, { message: "", verdict: null, completing: false, lastProgressAt: Date.now() });
  if (e.mp.checked) {
    enterUploading(inst, e);
  } else {
    if (move(inst, e, "checking")) checkResume(inst, e, e.mp);
  }
  ensureTicker(inst);
  render(inst);
}

/** A resume: count a listed part as sent only when our file's bytes there hash the same. */
async function checkResume(inst, e, mp) {
  const listed = Object.entries(mp.inBucket).map(([n, p]) => [Number(n), p]).sort((a, b) => a[0] - b[0]);
  const current = () => e.mp === mp && e.state === "checking";
  for (const [n, info] of listed) {
    const part = mp.parts[n - 1];
    if (!part || Number(info.size) !== part.size || !info.sha256 || !e.hashParts) continue;
    let digest = mp.known.get(n);
    try {
      digest ||= await sha256Base64(e.file.slice(part.start, part.end));
    } catch {
      if (current()) failMultipart(inst, e, { code: "ReadError", message: unreadable(e) });
      return;
    }
    if (!current()) return;
    mp.known.set(n, digest);
    part.sha256 = digest;
    if (digest === info.sha256 && info.etag) {
      if (!movePart(inst, e, part, "done", { etag: info.etag, sent: part.size })) return;
      mp.resumed++;
    } else {
      if (!movePart(inst, e, part, "hashed", { wanted: true })) return; // differs from our file: send ours
    }
    updateSent(e);
    scheduleRender(inst);
  }
  if (!current()) return;
  mp.checked = true;
  if (listed.length) {
    e.resumeNote = `Resuming: ${mp.resumed} of ${mp.count} parts already in the bucket.`;
    announce(inst, `${e.name}: ${e.resumeNote}`);
  }
  enterUploading(inst, e);
  changed(inst);
}

/** Parts go from now on; speed counts from here (bytes already in the bucket are not this run's). */
function enterUploading(inst, e) {
  if (move(inst, e, "uploading", { startedAt: Date.now(), baseSent: e.sent })) driveParts(inst, e);
}

const partConcurrency = (inst) => Math.max(1, Math.min(16, Math.floor(Number(inst.data.multipart?.concurrency)) || 8));

/** Start parts while there is a free slot, hash ahead, ask for URLs; finish when all are in. */
function driveParts(inst, e) {
  const mp = e.mp;
  if (e.state !== "uploading" || !mp) return;
  const now = Date.now();
  const limit = partConcurrency(inst);
  let inFlight = mp.parts.filter((p) => p.state === "uploading").length;
  for (const p of mp.parts) {
    if (p.state !== "hashed" || p.retryAt > now) continue;
    if (p.url && expiring(p.expiresAt, p.urlAt, now)) p.url = null; // re-signed before use
    if (!p.url) {
      mp.unasked ||= !p.wanted;
      p.wanted = true;
      continue;
    }
    if (inFlight >= limit) continue;
    startPart(inst, e, p);
    inFlight++;
  }
  hashAhead(inst, e, limit);
  if (mp.parts.every((p) => p.state === "done")) return finishMultipart(inst, e);
  if (mp.unasked && urlsRunningLow(mp, limit, now)) {
    mp.unasked = false;
    changed(inst);
  }
}

/** Whether to ask for the part URLs wanted now rather than gather more first. Every ask is a Streamlit
 * rerun, which costs the browser's CPU (the page is drawn again) that the parts in flight compete for:
 * asked one or two at a time as parts are hashed, a 1 GiB file took ~35 reruns. So the ask goes at once
 * while fewer URLs are in hand than half the slots (the start, a slow server: sending must not wait),
 * else once a slot-full of parts waits for theirs, or the last part is hashed. Hashing stops at
 * PART_LOOKAHEAD slot-fulls ahead, so one of these always comes; any other event carries the wanted
 * parts too. */
function urlsRunningLow(mp, limit, now) {
  let ready = 0;
  let wanted = 0;
  for (const p of mp.parts) {
    if (p.state !== "hashed") continue;
    if (p.wanted) wanted++;
    else if (p.url && !expiring(p.expiresAt, p.urlAt, now)) ready++;
  }
  return ready < Math.ceil(limit / 2) || wanted >= limit || !mp.parts.some((p) => p.state === "todo" || p.state === "hashing");
}

/** Keep PART_LOOKAHEAD parts per slot hashed (and their URLs asked for) ahead of those in flight. */
function hashAhead(inst, e, limit) {
  const mp = e.mp;
  if (mp.hashing) return;
  const ahead = () => mp.parts.filter((p) => p.state === "hashed").length;
  if (!e.hashParts) { // no WebCrypto: the parts go without checksums
    for (const p of mp.parts) {
      if (ahead() >= PART_LOOKAHEAD * limit) break;
      if (p.state === "todo" && !movePart(inst, e, p, "hashed", { wanted: true })) return;
      mp.unasked = true;
    }
    return;
  }
  const next = mp.parts.find((p) => p.state === "todo");
  if (!next || ahead() >= PART_LOOKAHEAD * limit) return;
  if (!movePart(inst, e, next, "hashing")) return;
  mp.hashing = true;
  const cached = mp.known.get(next.n);
  (cached ? Promise.resolve(cached) : sha256Base64(e.file.slice(next.start, next.end))).then(
    (digest) => {
      mp.hashing = false;
      if (e.mp !== mp || next.state !== "hashing") return;
      mp.known.set(next.n, digest);
      if (!movePart(inst, e, next, "hashed", { sha256: digest, wanted: true })) return;
      mp.unasked = true; // asked for by driveParts, now or with the next few
      driveParts(inst, e);
    },
    () => {
      mp.hashing = false;
      if (e.mp === mp && ["uploading", "paused"].includes(e.state)) failMultipart(inst, e, { code: "ReadError", message: unreadable(e) });
    },
  );
}

/** Part URLs that arrived in `data`: newer than the one held, and signed for the part's checksum. */
function applyPartUrls(inst, e, answers) {
  for (const p of e.mp.parts) {
    const a = answers[p.n];
    if (!p.wanted || !a || Number(a.seq) <= p.urlSeq) continue;
    if (a.refused) {
      failMultipart(inst, e, { code: "Refused", message: String(a.refused) });
      return;
    }
    if (a.sha256 && a.sha256 !== p.sha256) continue; // signed for other bytes: ask again
    Object.assign(p, { url: a.url, urlSeq: Number(a.seq), expiresAt: Number(a.expiresAt), urlAt: Date.now(), signed: a.sha256 || null, wanted: false });
    e.mp.host ||= hostOf(a.url);
  }
}

/** Parts still waiting for a URL, per file: the `parts` event. */
function partRequests(inst) {
  const requests = [];
  for (const e of inst.files.values()) {
    if (!e.mp || !["uploading", "paused"].includes(e.state)) continue;
    const parts = e.mp.parts.filter((p) => p.wanted && p.state === "hashed").map((p) => ({ n: p.n, sha256: p.sha256, held: p.urlSeq }));
    if (parts.length) requests.push({ id: e.id, signSeq: seqOf(e.grant), parts });
  }
  return requests;
}

function startPart(inst, e, p) {
  const xhr = new XMLHttpRequest();
  if (!movePart(inst, e, p, "uploading", { xhr, sent: 0, abortReason: null, lastProgressAt: Date.now() })) return;
  xhr.open("PUT", p.url, true);
  xhr.withCredentials = false;
  // Exactly the header the URL signed, and no other x-amz-* header (the bucket refuses unsigned ones).
  if (p.signed) xhr.setRequestHeader("x-amz-checksum-sha256", p.signed);
  xhr.upload.onprogress = (ev) => {
    if (p.xhr !== xhr) return;
    const sent = Math.min(p.size, ev.loaded);
    inst.sentCounter += Math.max(0, sent - p.sent);
    p.sent = Math.max(p.sent, sent);
    p.lastProgressAt = e.lastProgressAt = Date.now();
    updateSent(e);
    scheduleRender(inst);
  };
  xhr.onload = () => partEnded(inst, e, p, xhr, "load");
  xhr.onerror = () => partEnded(inst, e, p, xhr, "error");
  xhr.onabort = () => partEnded(inst, e, p, xhr, "abort");
  xhr.send(e.file.slice(p.start, p.end));
}

function partEnded(inst, e, p, xhr, how) {
  if (p.xhr !== xhr) return;
  p.xhr = null;
  if (how === "abort" && p.abortReason !== "timeout") { // paused, cancelled, failed elsewhere, page gone
    movePart(inst, e, p, "hashed", { sent: 0 });
    updateSent(e);
    return;
  }
  if (how === "load" && xhr.status >= 200 && xhr.status < 300) return partStored(inst, e, p, xhr);
  const status = how === "load" ? xhr.status : 0;
  const doc = how === "load" ? parseXml(xhr.responseText) : null;
  const code = xmlText(doc, "Code");
  const s3Message = xmlText(doc, "Message") || "";
  if (!movePart(inst, e, p, "hashed", { sent: 0 })) return;
  updateSent(e);
  if (status === 403 && /expired/i.test(s3Message) && p.tries < PART_TRIES) { // sign it again
    Object.assign(p, { url: null, wanted: true, tries: p.tries + 1 });
    changed(inst);
    return;
  }
  if (status === 0 || status >= 500 || RETRYABLE_CODES.has(code)) {
    p.tries++;
    if (p.tries < PART_TRIES) {
      const backoff = Math.min(PART_BACKOFF_MAX_MS, PART_BACKOFF_MS * 2 ** (p.tries - 1));
      p.retryAt = Date.now() + backoff * (0.5 + Math.random()); // jitter: parts do not retry in lockstep
      ensureTicker(inst);
      return;
    }
  }
  failMultipart(inst, e, { status, code: code || (status ? `HTTP${status}` : "NetworkError"), s3Message, message: describePartFailure(e, p, status, code, s3Message, how) });
}

function partStored(inst, e, p, xhr) {
  // The server completes from ListParts; an ETag this page can read (CORS exposes it) is checked too.
  const etag = exposedHeader(xhr, "ETag");
  inst.sentCounter += Math.max(0, p.size - p.sent);
  if (!movePart(inst, e, p, "done", { etag, sent: p.size, url: null })) return;
  updateSent(e);
  driveParts(inst, e);
  scheduleRender(inst);
}

function describePartFailure(e, p, status, code, msg, how) {
  const host = e.mp.host || "the bucket's endpoint";
  const keep = " The parts already sent stay in the bucket: press Retry (or choose the file again after a reload) to resume.";
  if (how === "abort") return `Part ${p.n} stalled: nothing moved for ${STALL_MS / 1000} seconds, ${PART_TRIES} times.${keep}`;
  if (status === 0) {
    return `Could not reach the bucket at ${host} (part ${p.n}, ${PART_TRIES} tries). Check the connection and that the bucket's `
      + `CORS rule allows PUT and the x-amz-checksum-sha256 header from this site (${location.origin}).${keep}`;
  }
  if (code === "BadDigest") {
    return `The bucket refused part ${p.n}: its bytes do not match the SHA-256 computed from your file. `
      + "Did the file change while it was uploading? Choose it again.";
  }
  if (code === "NoSuchUpload") return "The bucket no longer has this upload (it was aborted, or a lifecycle rule removed it). Press Retry to start again.";
  if (code === "SignatureDoesNotMatch") {
    return `The bucket refused part ${p.n}: the signature did not match (the part's URL or checksum header was altered, or the server's clock is wrong).`;
  }
  if (status >= 500 || RETRYABLE_CODES.has(code)) return `The bucket is busy: part ${p.n} failed ${PART_TRIES} times.${keep}`;
  return `The bucket refused part ${p.n}: ${code || `HTTP ${status}`}${msg ? `: ${msg}` : ""}`;
}

function updateSent(e) {
  e.sent = e.mp.parts.reduce((sum, p) => sum + (p.state === "done" ? p.size : p.sent), 0);
}

function abortParts(e, reason) {
  for (const p of e.mp?.parts || []) if (p.xhr) { p.abortReason = reason; p.xhr.abort(); }
}

/** Every part is in: Python completes the upload from their ETags (and verifies it). */
function finishMultipart(inst, e) {
  if (!move(inst, e, "done", { completing: true, sent: e.size, endedAt: Date.now() })) return;
  const parts = e.mp.parts.map((p) => ({ n: p.n, etag: p.etag, sha256: p.sha256 }));
  inst.outbox.set(e.id, newResult(e, { ok: true, status: 200, bytes: e.size, ms: e.endedAt - e.startedAt, parts }));
  announce(inst, `${e.name} uploaded; completing`);
  pump(inst);
  changed(inst);
  // Nothing else is coming that this report should wait for: the page completes the upload now.
  clearTimeout(inst.flushTimer);
  inst.flushTimer = 0;
  scheduleFlush(inst, 0);
}

function failMultipart(inst, e, fields) {
  abortParts(e, "failed");
  if (fields.code === "NoSuchUpload") { forgetUpload(inst, e); e.resumeId = null; }
  if (!move(inst, e, "failed", { message: fields.message, endedAt: Date.now() })) return;
  inst.outbox.set(e.id, newResult(e, { bytes: e.sent, ms: e.endedAt - e.startedAt, ...fields }));
  announce(inst, `${e.name} failed: ${e.message}`);
  pump(inst);
  changed(inst);
}

/** Pause: no new parts; parts in flight are stopped and sent again on Resume. */
function pause(inst, e) {
  if (e.state !== "uploading" || !e.mp) return;
  if (!move(inst, e, "paused")) return;
  abortParts(e, "pause");
  pump(inst); // the slot is free for another file
  render(inst);
}

function resume(inst, e) {
  if (e.state !== "paused") return;
  if (!move(inst, e, "queued")) return;
  pump(inst);
  changed(inst);
}

/** Cancel: Python aborts the upload and the bucket deletes its parts. */
function cancelMultipart(inst, e) {
  abortParts(e, "cancel");
  forgetUpload(inst, e);
  if (!move(inst, e, "cancelled", { message: "You cancelled this upload.", resumeId: null, completing: false })) return;
  inst.outbox.set(e.id, newResult(e, { code: "Cancelled", message: e.message, bytes: e.sent }));
  announce(inst, `${e.name} cancelled`);
  pump(inst);
  changed(inst);
}

// ---- Resume memory (localStorage): which multipart upload holds which file ------------------------
// A fingerprint (bucket scope, name, size, lastModified) -> upload id. Only a hint: the server checks
// its own record, and a resume trusts only parts whose SHA-256 matches this file's bytes.

const fingerprint = (inst, e) => JSON.stringify([String(inst.data.multipart?.scope || ""), e.name, e.size, e.lastModified]);

function resumeMemory() {
  try {
    const map = JSON.parse(localStorage.getItem(RESUME_KEY) || "{}");
    return map && typeof map === "object" ? map : {};
  } catch {
    return {}; // storage disabled or corrupt: no resume after a reload, everything else works
  }
}

function saveResumeMemory(map) {
  const newest = Object.entries(map).sort((a, b) => Number(b[1]?.at) - Number(a[1]?.at)).slice(0, RESUME_MAX);
  try { localStorage.setItem(RESUME_KEY, JSON.stringify(Object.fromEntries(newest))); } catch { /* full or disabled */ }
}

function rememberUpload(inst, e, uploadId) {
  const map = resumeMemory();
  map[fingerprint(inst, e)] = { uploadId, at: Date.now() };
  saveResumeMemory(map);
}

function forgetUpload(inst, e) {
  const map = resumeMemory();
  if (delete map[fingerprint(inst, e)]) saveResumeMemory(map);
}

/** The upload to resume for a file about to be signed: this tab's own, else one remembered. */
function resumeIdFor(inst, e) {
  if (!isMultipartSize(inst, e.size)) return null;
  return e.resumeId || resumeMemory()[fingerprint(inst, e)]?.uploadId || null;
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
  if (code === "AccessDenied" && /request has expired|policy expired/i.test(msg)) {
    return "The upload permission expired before the upload started. Press Retry to get a new one.";
  }
  if (code === "BadDigest") {
    return "The bucket refused the file: its bytes do not match the SHA-256 computed when you chose it. Did the file change? Choose it again.";
  }
  if (code === "AccessDenied" && /not signed/i.test(msg)) {
    return "The bucket refused: the browser sent a header the upload permission does not sign (an extension or proxy may add headers).";
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
  if (code === "RequestTimeout") return "The bucket stopped waiting for the file's data. Check the connection, then press Retry.";
  if (RETRYABLE_CODES.has(code) || status === 503 || status === 500) {
    return "The bucket is busy. Retry in a moment.";
  }
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

const waitingFiles = (inst) => [...inst.files.values()].filter((e) => e.state === "signing" || e.resigning);

/** Data arrived: the app answered. Unanswered long enough: say so in words, on the page. */
function noteUnanswered(inst, unanswered, now) {
  if (!unanswered || inst.lastDataAt >= inst.lastSentAt) inst.silentSince = 0;
  else inst.silentSince ||= inst.lastSentAt;
  const silent = inst.silentSince && now - inst.silentSince > UNREACHABLE_MS;
  if (!inst.els) return;
  setHidden(inst.els.unreachable, !silent);
  setText(inst.els.unreachable, silent
    ? `The app has not answered for ${Math.round((now - inst.silentSince) / 1000)} s (it may be restarting, or the connection dropped). `
      + "Files already on their way keep going; requests are sent again until it answers, then everything continues by itself."
    : "");
}

/** Something new to say: send soon, and restart the resend back-off. */
function changed(inst) {
  inst.resendStep = 0;
  scheduleFlush(inst, BATCH_MS);
  ensureTicker(inst);
  scheduleRender(inst); // at most every 100 ms: a thousand small files change state a thousand times
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
  const parts = partRequests(inst);
  // At most MAX_PER_EVENT of each per event (the page reads no more): the rest go with the next one.
  const through = inst.grantsThrough;
  if (inst.outbox.size) inst.setTrigger("done", { through, results: [...inst.outbox.values()].slice(0, MAX_PER_EVENT) });
  if (waiting.length) inst.setTrigger("sign", { through, files: waiting.slice(0, MAX_PER_EVENT).map((e) => signRequest(inst, e)) });
  if (parts.length) inst.setTrigger("parts", { through, requests: parts });
  if (inst.outbox.size || waiting.length || parts.length) {
    inst.lastSentAt = Date.now();
    inst.gateUntil = inst.lastSentAt + GATE_MS;
  }
}

function signRequest(inst, e) {
  const request = { id: e.id, name: e.name, size: e.size, type: e.type, lastModified: e.lastModified, signSeq: e.heldSeq };
  if (e.batch) Object.assign(request, { batch: e.batch, folder: e.folder });
  if (e.sha256) request.sha256 = e.sha256;
  if (e.noChecksum) request.noChecksum = e.noChecksum;
  const uploadId = resumeIdFor(inst, e);
  if (uploadId) request.uploadId = uploadId;
  return request;
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
    let busy = inst.outbox.size > 0;
    for (const e of inst.files.values()) {
      if (e.state === "uploading" && e.xhr && now - e.lastProgressAt > STALL_MS) { e.abortReason = "timeout"; e.xhr.abort(); }
      for (const p of e.mp?.parts || []) {
        if (p.xhr && now - p.lastProgressAt > STALL_MS) { p.abortReason = "timeout"; p.xhr.abort(); }
      }
      if (e.state === "uploading" && e.mp) driveParts(inst, e); // retries due, URLs expiring
      busy ||= ACTIVE.includes(e.state);
    }
    const unanswered = inst.outbox.size > 0 || waitingFiles(inst).length > 0 || partRequests(inst).length > 0;
    const wait = RESEND_MS[inst.resendStep] ?? RESEND_LAST_MS;
    if (unanswered && !inst.flushTimer && now - inst.lastSentAt >= wait) {
      inst.resendStep++;
      inst.gateUntil = 0; // an answer that never came must not hold the resend back
      flushTriggers(inst);
    }
    noteUnanswered(inst, unanswered, now);
    if (!busy) {
      clearInterval(inst.ticker);
      Object.assign(inst, { ticker: 0, speedSamples: [], speed: 0 });
    }
    render(inst);
  }, 1000);
}

function destroy(inst) {
  for (const e of inst.files.values()) {
    if (e.xhr) { e.abortReason = "teardown"; e.xhr.abort(); }
    abortParts(e, "teardown");
  }
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
  const chooseFolder = el("button", "bd-btn bd-btn-choose bd-btn-folder", { type: "button", "aria-describedby": hintId }, "Choose folder");
  const folderInput = el("input", "bd-input bd-input-folder", { type: "file", multiple: "", webkitdirectory: "", hidden: "", tabindex: "-1", "aria-label": "Choose a folder to upload" });
  text.append(el("div", "bd-drop-title", {}, "Drag and drop files or folders here"), hint);
  zone.append(uploadIcon(), text, choose, chooseFolder, input, folderInput);
  const notice = el("div", "bd-notice", { role: "status" });
  const unreachable = el("div", "bd-notice bd-unreachable", { role: "status", hidden: "" });
  const summary = el("div", "bd-summary");
  const totalText = el("div", "bd-total", { "aria-live": "polite" });
  const clear = el("button", "bd-btn bd-btn-small", { type: "button" }, "Clear finished");
  summary.append(totalText, clear);
  const totalBar = el("div", "bd-bar bd-bar-total", { role: "progressbar", "aria-label": "Total upload progress", "aria-valuemin": "0", "aria-valuemax": "100" });
  totalBar.append(el("div", "bd-bar-fill"));
  const list = el("ul", "bd-list", { "aria-label": "Files to upload" });
  const sr = el("div", "bd-sr", { "aria-live": "polite" });
  root.append(zone, notice, unreachable, summary, totalBar, list, sr);

  choose.onclick = (ev) => { ev.stopPropagation(); input.click(); };
  chooseFolder.onclick = (ev) => { ev.stopPropagation(); folderInput.click(); };
  zone.onclick = (ev) => { if (ev.target !== input && ev.target !== folderInput) input.click(); }; // the whole zone is a target
  input.onchange = () => { addFiles(inst, Array.from(input.files || [])); input.value = ""; };
  folderInput.onchange = () => { addFiles(inst, pickedFolderFiles(inst, Array.from(folderInput.files || []))); folderInput.value = ""; };
  const carriesFiles = (ev) => Array.from(ev.dataTransfer?.types || []).includes("Files");
  const dragging = (depth) => zone.classList.toggle("bd-dragging", (inst.dragDepth = Math.max(0, depth)) > 0);
  zone.ondragenter = (ev) => { if (carriesFiles(ev)) { ev.preventDefault(); dragging(inst.dragDepth + 1); } };
  zone.ondragover = (ev) => { if (carriesFiles(ev)) { ev.preventDefault(); ev.dataTransfer.dropEffect = "copy"; } };
  zone.ondragleave = () => dragging(inst.dragDepth - 1);
  zone.ondrop = (ev) => {
    ev.preventDefault();
    dragging(0);
    droppedFiles(inst, ev.dataTransfer).then((items) => addFiles(inst, items));
  };
  clear.onclick = () => {
    for (const e of [...inst.files.values()]) if (e.state === "done" || e.state === "refused") removeFile(inst, e);
    render(inst);
  };
  inst.els = { root, input, hint, notice, unreachable, totalText, totalBar, summary, clear, list, sr };
  for (const e of inst.files.values()) e.row = null; // the HTML was replaced: rebuild rows
}

// ---- Folders -------------------------------------------------------------------------------------
// Each dropped (or chosen) folder is one batch: its files keep their paths under one key prefix the
// server picks. Empty folders have no files to send; system files nobody means to upload are skipped.

const SYSTEM_FILE = /^(\.DS_Store|Thumbs\.db|desktop\.ini|\._.*)$/i;
const newBatch = (inst, name) => {
  const batch = newFileId();
  inst.batches.set(batch, { name, skipped: 0 });
  return batch;
};

function keepFile(inst, file, batch) {
  if (!SYSTEM_FILE.test(file.name)) return true;
  inst.batches.get(batch).skipped++;
  return false;
}

/** Files from a drop: plain files as they are, folders walked (all levels) into batches. */
async function droppedFiles(inst, dt) {
  const entries = Array.from(dt?.items || []).filter((i) => i.kind === "file").map((i) => [i, i.webkitGetAsEntry?.()]);
  const items = [];
  for (const [item, entry] of entries) {
    if (entry?.isDirectory) {
      const batch = newBatch(inst, entry.name);
      await walk(inst, entry, entry.name, batch, items);
    } else {
      const f = item.getAsFile();
      if (f) items.push(f);
    }
  }
  if (!entries.length) items.push(...Array.from(dt?.files || []));
  noteSkipped(inst);
  return items;
}

async function walk(inst, dir, path, batch, items) {
  const reader = dir.createReader();
  for (;;) { // readEntries answers in chunks (100 in Chromium) until an empty one
    const chunk = await new Promise((ok, fail) => reader.readEntries(ok, fail)).catch(() => []);
    if (!chunk.length) return;
    for (const entry of chunk) {
      if (entry.isDirectory) await walk(inst, entry, `${path}/${entry.name}`, batch, items);
      else {
        const file = await new Promise((ok, fail) => entry.file(ok, fail)).catch(() => null);
        if (file && keepFile(inst, file, batch)) items.push({ file, folder: path, batch });
      }
    }
  }
}

/** Files from the folder picker: webkitRelativePath is "top/sub/name"; one batch per top folder. */
function pickedFolderFiles(inst, files) {
  const batches = new Map();
  const items = [];
  for (const file of files) {
    const parts = String(file.webkitRelativePath || file.name).split("/");
    const top = parts.length > 1 ? parts[0] : "";
    if (!batches.has(top)) batches.set(top, newBatch(inst, top || "folder"));
    const batch = batches.get(top);
    if (keepFile(inst, file, batch)) items.push({ file, folder: parts.slice(0, -1).join("/"), batch });
  }
  noteSkipped(inst);
  return items;
}

function noteSkipped(inst) {
  const skipped = [...inst.batches.values()].reduce((n, b) => n + b.skipped, 0);
  inst.els.notice.textContent = skipped
    ? `Skipped ${skipped} system ${skipped === 1 ? "file" : "files"} (.DS_Store, Thumbs.db, desktop.ini, ._*): they are not part of your folder's content.`
    : "";
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
  const pauseBtn = button("Pause", `Pause upload of ${e.name}`);
  const resumeBtn = button("Resume", `Resume upload of ${e.name}`);
  cancelBtn.onclick = () => cancel(inst, e);
  retryBtn.onclick = () => retry(inst, e);
  removeBtn.onclick = () => { removeFile(inst, e); render(inst); };
  pauseBtn.onclick = () => pause(inst, e);
  resumeBtn.onclick = () => resume(inst, e);
  const actions = el("span", "bd-actions");
  actions.append(removeBtn, retryBtn, pauseBtn, resumeBtn, cancelBtn); // Retry takes Cancel's place, never Remove
  head.append(el("span", "bd-name", { title: e.name }, e.name), el("span", "bd-size", {}, humanBytes(e.size)), status, actions);
  const bar = el("div", "bd-bar", { role: "progressbar", "aria-label": `Upload progress of ${e.name}`, "aria-valuemin": "0", "aria-valuemax": "100" });
  bar.append(el("div", "bd-bar-fill"));
  const detail = el("div", "bd-detail");
  li.append(head, bar, detail);
  inst.els.list.append(li);
  return { li, status, bar, detail, cancelBtn, retryBtn, removeBtn, pauseBtn, resumeBtn };
}

/** Render soon: every 100 ms, or every 250 ms past RENDER_MANY files (a render looks at every file, and a
 * thousand small files change state thousands of times). */
function scheduleRender(inst) {
  if (inst.renderTimer) return;
  const wait = inst.files.size > RENDER_MANY ? 250 : 100;
  inst.renderTimer = setTimeout(() => { inst.renderTimer = 0; render(inst); }, wait);
}

function render(inst) {
  if (!inst.els) return;
  const { hint, input, totalText, totalBar, summary, clear } = inst.els;
  const accept = typeof inst.data.accept === "string" ? inst.data.accept : "";
  if (accept !== (input.getAttribute("accept") ?? "")) {
    if (accept) input.setAttribute("accept", accept); else input.removeAttribute("accept");
  }
  const limits = [];
  if (Number(inst.data.maxBytes) > 0) limits.push(`Up to ${humanBytes(Number(inst.data.maxBytes))} per file`);
  if (accept) limits.push(accept.split(",").map((s) => s.trim()).filter(Boolean).join(", "));
  setText(hint, limits.join(" · "));
  const now = Date.now();
  // "done" counts files with their verdict; sent ones still awaiting it are "completing" (a large file) or
  // "verifying", so "1000 done" means every file was checked, not only sent.
  const n = { done: 0, completing: 0, verifying: 0, "not accepted": 0, failed: 0, refused: 0, cancelled: 0, moving: 0 };
  let total = 0, sent = 0; // over files that arrived or are on their way
  const folders = new Map(); // batch -> its counts: a folder is one line, plus a row per problem
  for (const e of inst.files.values()) {
    const moving = ACTIVE.includes(e.state);
    const kind = moving ? "moving" : e.verdict?.ok === false ? "not accepted" : e.state;
    if (!e.batch || PROBLEMS.includes(kind)) renderRow(inst, e, now);
    else if (e.row) { e.row.li.remove(); e.row = null; }
    if (e.batch) tallyFolder(folders, e, kind);
    n[kind === "done" && !e.verdict ? (e.completing ? "completing" : "verifying") : kind]++;
    if (moving || e.state === "done") {
      total += e.size;
      sent += e.state === "done" ? e.size : e.sent;
    }
  }
  renderFolders(inst, folders);
  setHidden(summary, inst.files.size === 0);
  setHidden(totalBar, inst.files.size === 0);
  const arrived = n.done + n.completing + n.verifying + n["not accepted"];
  const pct = n.moving ? Math.min(99, Math.floor((sent / (total || 1)) * 100)) : arrived ? 100 : 0;
  const parts = [`${humanBytes(sent)} of ${humanBytes(total)}`, `${pct} %`];
  if (countState(inst, "uploading") && inst.speed > 0) parts.push(`${humanBytes(inst.speed)}/s`);
  parts.push(`${n.done} done`);
  for (const k of ["completing", "verifying", "not accepted", "failed", "refused", "cancelled"]) if (n[k]) parts.push(`${n[k]} ${k}`);
  if (n.moving) parts.push(`${n.moving} to go`);
  setText(totalText, parts.join(" · "));
  setBar(totalBar, pct);
  const complete = String(!n.moving && !n.completing && !n.verifying && n.done > 0);
  if (totalBar.dataset.complete !== complete) totalBar.dataset.complete = complete;
  if (clear.disabled !== !(arrived + n.refused)) clear.disabled = !(arrived + n.refused);
  // Said once per render: a thousand small files would otherwise change the live region (and make the browser
  // lay out the page and its thousand rows again) a few times for each file.
  if (inst.announcement) {
    inst.els.sr.textContent = inst.announcement;
    inst.announcement = "";
  }
}

const PROBLEMS = ["not accepted", "failed", "refused", "cancelled"];

function tallyFolder(folders, e, kind) {
  let f = folders.get(e.batch);
  if (!f) folders.set(e.batch, (f = { files: 0, bytes: 0, sent: 0, done: 0, moving: 0, problems: 0, phases: {} }));
  f.files++;
  f.waiting ||= waitsOnApp(e);
  f.bytes += e.size;
  f.sent += e.state === "done" ? e.size : e.sent;
  if (kind === "moving") {
    f.moving++;
    const phase = phaseOf(e);
    f.phases[phase] = (f.phases[phase] || 0) + 1;
  } else if (kind === "done") f.done += e.verdict ? 1 : 0;
  if (kind === "done" && !e.verdict) { f.moving++; f.phases.verifying = (f.phases.verifying || 0) + 1; }
  if (PROBLEMS.includes(kind)) f.problems++;
}

/** One line per folder: its name, how many of its files are where, and the bytes sent. */
function renderFolders(inst, folders) {
  for (const [batch, row] of inst.batchRows) {
    if (!folders.has(batch)) { row.li.remove(); inst.batchRows.delete(batch); }
  }
  for (const [batch, f] of folders) {
    let row = inst.batchRows.get(batch);
    if (!row) {
      const li = el("li", "bd-row bd-folder");
      const head = el("div", "bd-row-head");
      const name = inst.batches.get(batch)?.name || "folder";
      const status = el("span", "bd-status");
      head.append(el("span", "bd-name", { title: name }, `${name}/`), el("span", "bd-size"), status);
      const bar = el("div", "bd-bar", { role: "progressbar", "aria-label": `Upload progress of folder ${name}`, "aria-valuemin": "0", "aria-valuemax": "100" });
      bar.append(el("div", "bd-bar-fill"));
      const detail = el("div", "bd-detail");
      li.append(head, bar, detail);
      inst.els.list.prepend(li);
      row = { li, size: head.children[1], status, bar, detail };
      inst.batchRows.set(batch, row);
    }
    const pct = f.moving ? Math.min(99, Math.floor((f.sent / (f.bytes || 1)) * 100)) : 100;
    row.li.dataset.state = f.moving ? "uploading" : f.problems ? "rejected" : "verified";
    row.size.textContent = humanBytes(f.bytes);
    row.status.textContent = f.moving ? "Uploading folder" : f.problems ? "Finished with problems" : "Verified";
    const phases = Object.entries(f.phases).map(([k, v]) => `${v} ${k}`).join(", ");
    row.detail.textContent = [f.waiting && appSilent(inst, Date.now()) ? APP_SILENT : "", `${f.files.toLocaleString()} files`, `${f.done.toLocaleString()} verified`,
      f.problems ? `${f.problems} with problems (listed below)` : "", phases, `${humanBytes(f.sent)} of ${humanBytes(f.bytes)} · ${pct} %`]
      .filter(Boolean).join(" · ");
    setBar(row.bar, pct);
  }
}

const APP_SILENT = "The app is not answering (it may be restarting): this upload waits for it and continues by itself once it is back.";
const appSilent = (inst, now) => Boolean(inst.silentSince && now - inst.silentSince > UNREACHABLE_MS);

/** The file cannot move on without an answer from the app: a grant, part URLs, or its verdict. */
function waitsOnApp(e) {
  if (e.state === "signing" || e.resigning || (e.state === "done" && !e.verdict)) return true;
  return Boolean(e.mp && e.state === "uploading" && e.mp.parts.some((p) => p.wanted && p.state === "hashed"));
}

/** What a file on its way is waiting for, in a word. */
function phaseOf(e) {
  if (e.state === "hashing") return "hashing";
  if (e.state === "signing") return "waiting for permission";
  if (e.state === "queued") return "queued";
  if (e.state === "checking") return "checking";
  if (e.state === "paused") return "paused";
  return "sending";
}

function renderRow(inst, e, now) {
  if (!e.row) e.row = buildRow(inst, e);
  const r = e.row;
  const pct = e.state === "done" ? 100 : e.size ? Math.min(99, Math.floor((e.sent / e.size) * 100)) : 0;
  const stuck = e.state === "signing" && now - e.signAt > STUCK_SIGN_MS;
  let label = "", detail = e.message, tone = e.state;
  if (e.state === "hashing") {
    label = "Computing checksum…";
    detail = "SHA-256 of the file, so the bucket can check what it receives.";
  } else if (e.state === "checking") {
    label = "Checking parts…";
    detail = `Resuming: comparing the ${Object.keys(e.mp?.inBucket || {}).length} parts already in the bucket with your file.`;
  } else if (e.state === "uploading" && e.mp) {
    const secs = (now - e.startedAt) / 1000;
    const done = e.mp.parts.filter((p) => p.state === "done").length;
    label = "Sending";
    const speed = secs > 0.5 ? ` · ${humanBytes((e.sent - (e.baseSent || 0)) / secs)}/s` : "";
    detail = [e.resumeNote, `${humanBytes(e.sent)} of ${humanBytes(e.size)} · ${pct} %${speed}`
      + ` · ${done} of ${e.mp.count} parts`].filter(Boolean).join(" ");
  } else if (e.state === "paused") {
    label = "Paused";
    detail = `${humanBytes(e.sent)} of ${humanBytes(e.size)} · ${pct} %. Press Resume to continue.`;
  } else if (e.state === "signing") {
    label = "Waiting for permission…";
    detail = stuck ? "Still waiting for permission. Press Retry to ask again." : "";
  } else if (e.state === "queued") {
    label = "Queued";
    detail = "Waiting for a free upload slot.";
  } else if (e.state === "uploading") {
    const secs = (now - e.startedAt) / 1000;
    label = e.bodySent ? "Finishing…" : "Sending";
    detail = `${humanBytes(e.sent)} of ${humanBytes(e.size)} · ${pct} %` + (secs > 0.5 ? ` · ${humanBytes(e.sent / secs)}/s` : "");
  } else if (e.state === "done" && e.completing && !e.verdict) {
    label = "Completing…";
    detail = `All ${e.mp.count} parts are in the bucket; the app completes the upload, then verifies it.`;
  } else if (e.state === "done") {
    const secs = Math.max(0.001, (e.endedAt - e.startedAt) / 1000);
    label = "Verifying…"; // sent: the app is checking what the bucket holds
    detail = e.endedAt ? `${humanBytes(e.size)} of ${humanBytes(e.size)} · 100 % · ${humanBytes(e.size / secs)}/s · ${secs.toFixed(1)} s` : "";
    if (e.verdict) {
      label = e.verdict.ok ? "Verified" : "Not accepted";
      tone = e.verdict.ok ? "verified" : "rejected";
      detail = String(e.verdict.message || detail);
    }
  } else {
    label = { refused: "Refused", failed: "Failed", cancelled: "Cancelled" }[e.state];
  }
  if (appSilent(inst, now) && waitsOnApp(e)) detail = [APP_SILENT, detail].filter(Boolean).join(" ");
  // A thousand rows are rendered ten times a second: touch the DOM only where something changed
  // (each write, even of the same text, makes the browser lay the whole list out again).
  const shown = `${tone}|${label}|${detail}|${pct}|${e.state}|${stuck}|${Boolean(e.mp)}|${Boolean(e.verdict?.ok)}`;
  if (r.shown === shown) return;
  r.shown = shown;
  r.li.dataset.state = tone;
  r.status.textContent = label;
  r.detail.textContent = detail;
  r.detail.hidden = !detail;
  r.bar.hidden = !["uploading", "paused", "checking", "done"].includes(e.state);
  setBar(r.bar, pct);
  r.cancelBtn.hidden = !ACTIVE.includes(e.state);
  r.pauseBtn.hidden = !(e.mp && e.state === "uploading");
  r.resumeBtn.hidden = e.state !== "paused";
  const resumable = Boolean(e.mp && e.state === "done" && e.verdict && !e.verdict.ok);
  r.retryBtn.hidden = !(e.state === "failed" || e.state === "cancelled" || stuck || resumable);
  r.removeBtn.hidden = !["refused", "failed", "cancelled", "done"].includes(e.state);
}

function setBar(bar, pct) {
  if (bar.getAttribute("aria-valuenow") === String(pct)) return;
  bar.setAttribute("aria-valuenow", String(pct));
  bar.firstChild.style.width = `${pct}%`;
}

// Write only what differs: each DOM write, even of the same value, makes the browser style and lay out the page
// again, with every row of the list in it, on the next frame.
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function setHidden(node, hidden) {
  if (node.hidden !== hidden) node.hidden = hidden;
}

/** Said by screen readers (an aria-live region), at the next render: the latest message since the last one. */
const announce = (inst, message) => {
  inst.announcement = message;
  scheduleRender(inst);
};
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
