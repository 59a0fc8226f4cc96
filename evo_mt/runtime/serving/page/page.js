// The page's only script: reads the server's language pair, sends the text to POST translate
// (LibreTranslate's request), shows the translation or the server's error; sends a document to
// POST translate_file and links its translation. No build step, no library: the server may run
// on a machine without internet access.
"use strict";

const settings = { source: null, target: null, keyRequired: false };

function element(id) {
  return document.getElementById(id);
}

function say(text, isError, where = "message") {
  const message = element(where);
  message.textContent = text;
  message.classList.toggle("error", Boolean(isError));
}

async function loadSettings() {
  try {
    const response = await fetch("frontend/settings");
    const body = await response.json();
    settings.source = body.language.source;
    settings.target = body.language.target;
    settings.keyRequired = body.keyRequired;
    element("pair").textContent =
      `${settings.source.name} (${settings.source.code}) → ${settings.target.name} (${settings.target.code})`;
    element("source-name").textContent = settings.source.name;
    element("target-name").textContent = settings.target.name;
    // With keys, a key may be needed (keyRequired) or only lift the keyless limit (apiKeys).
    element("key-field").hidden = !body.apiKeys;
    const formats = body.supportedFilesFormat || [];
    element("file").accept = formats.join(",");
    element("file-formats").textContent = `Formats: ${formats.join(" ")}`;
  } catch (error) {
    say(`cannot read the server's settings: ${error}`, true);
  }
}

async function translate(event) {
  event.preventDefault();
  const button = element("translate");
  const request = { q: element("source").value, format: "text" };
  if (settings.source) {
    request.source = settings.source.code;
    request.target = settings.target.code;
  }
  const key = element("api-key").value.trim();
  if (key) {
    request.api_key = key;
  }
  button.disabled = true;
  say("translating…");
  try {
    const response = await fetch("translate", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(request),
    });
    const body = await response.json();
    if (!response.ok) {
      say(`${response.status}: ${body.error}`, true);
      return;
    }
    element("translation").value = body.translatedText;
    say((body.warnings || []).join("; "));
  } catch (error) {
    say(`the server did not answer: ${error}`, true);
  } finally {
    button.disabled = false;
  }
}

async function translateFile(event) {
  event.preventDefault();
  const button = element("translate-file");
  const link = element("download");
  const file = element("file").files[0];
  const form = new FormData();
  form.append("file", file);
  if (settings.source) {
    form.append("source", settings.source.code);
    form.append("target", settings.target.code);
  }
  const key = element("api-key").value.trim();
  if (key) {
    form.append("api_key", key);
  }
  button.disabled = true;
  link.hidden = true;
  say(`translating ${file.name}…`, false, "file-message");
  try {
    const response = await fetch("translate_file", { method: "POST", body: form });
    const body = await response.json();
    if (!response.ok) {
      say(`${response.status}: ${body.error}`, true, "file-message");
      return;
    }
    link.href = body.translatedFileUrl;
    link.download = file.name;
    link.textContent = `Download the translation of ${file.name}`;
    link.hidden = false;
    say("", false, "file-message");
  } catch (error) {
    say(`the server did not answer: ${error}`, true, "file-message");
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  element("translate-form").addEventListener("submit", translate);
  element("file-form").addEventListener("submit", translateFile);
  element("source").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      element("translate-form").requestSubmit();
    }
  });
  loadSettings();
});
