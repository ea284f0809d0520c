// client-audit console: copy buttons and the "/" shortcut. No inline script anywhere; the
// pages work without this file (the commands stay selectable text).
"use strict";

function copyText(button) {
  const target = document.getElementById(button.dataset.copy);
  const status = document.getElementById("copy-status");
  if (!target) {
    return;
  }
  const text = target.textContent;
  const done = (message) => {
    if (status) {
      status.textContent = message;
    }
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(
      () => done("Copied: " + button.textContent.replace("Copy as ", "") + " command."),
      () => done("Copying failed; select the text and copy it."),
    );
    return;
  }
  const range = document.createRange();
  range.selectNodeContents(target);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  done(document.execCommand("copy") ? "Copied." : "Selected; press Ctrl+C to copy.");
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (button) {
    copyText(button);
  }
});

document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) {
    return;
  }
  const active = document.activeElement;
  if (active && (active.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(active.tagName))) {
    return;
  }
  const box = document.getElementById("q");
  if (box) {
    event.preventDefault();
    box.focus();
    box.select();
  } else {
    window.location.assign("/console/search");
  }
});
