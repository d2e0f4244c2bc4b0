/**
 * bucketdesk copy button: one button that copies `data.text` (a signed link) to the clipboard.
 * Streamlit 1.67 calls the default export again whenever `data` changes, with the same
 * parentElement, so the button is built once and only its text to copy is updated.
 */

const instances = new WeakMap(); // parentElement -> {button, text, label, timer}

export default function copyButton({ data, parentElement }) {
  let inst = instances.get(parentElement);
  if (!inst) {
    const root = parentElement.querySelector(".bd-copy") || parentElement.appendChild(document.createElement("div"));
    root.className = "bd-copy";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "bd-copy-btn";
    const status = document.createElement("span");
    status.className = "bd-copy-status";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    root.replaceChildren(button, status);
    inst = { button, status, text: "", label: "Copy link", timer: 0 };
    instances.set(parentElement, inst);
    button.onclick = () => copy(inst, parentElement);
  }
  inst.text = typeof data?.text === "string" ? data.text : "";
  inst.label = typeof data?.label === "string" && data.label ? data.label : "Copy link";
  inst.button.textContent = inst.label;
  inst.button.disabled = !inst.text;
  return () => clearTimeout(inst.timer);
}

async function copy(inst, parentElement) {
  let ok = false;
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(inst.text);
      ok = true;
    }
  } catch (_) {
    ok = false;
  }
  if (!ok) ok = copyBySelection(inst.text, parentElement);
  inst.status.textContent = ok ? "Copied" : "Press Ctrl+C / ⌘C to copy";
  inst.status.dataset.ok = ok ? "1" : "0";
  inst.button.textContent = ok ? "Copied ✓" : inst.label;
  clearTimeout(inst.timer);
  inst.timer = setTimeout(() => {
    inst.button.textContent = inst.label;
    inst.status.textContent = "";
  }, 2000);
}

function copyBySelection(text, parentElement) {
  // Outside secure contexts (plain http on a LAN address) the Clipboard API is missing.
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  (parentElement.host ? document.body : parentElement).appendChild(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch (_) {
    ok = false;
  }
  area.remove();
  return ok;
}
