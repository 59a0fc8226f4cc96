// The page's only script: reads the server's language pair, sends the text to POST translate
// (LibreTranslate's request), shows the translation or the server's error. No build step, no
// library: the server may run on a machine without internet access.
"use strict";

const settings = { source: null, target: null, keyRequired: false };

function element(id) {
  return document.getElementById(id);
}

function say(text, isError) {
  const message = element("message");
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

document.addEventListener("DOMContentLoaded", () => {
  element("translate-form").addEventListener("submit", translate);
  element("source").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      element("translate-form").requestSubmit();
    }
  });
  loadSettings();
});
