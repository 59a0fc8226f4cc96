// The page's only script: fills the language pickers from GET languages (with "detect" for
// the source), sends the text to POST translate
// (LibreTranslate's request), shows the translation or the server's error; sends a document to
// POST translate_file and links its translation. No build step, no library: the server may run
// on a machine without internet access.
"use strict";

const settings = { keyRequired: false };
const AUTO = "auto";
let languages = []; // GET languages: [{code, name, targets}]
let detected = null; // the language the last "detect" translation found

function element(id) {
  return document.getElementById(id);
}

function say(text, isError, where = "message") {
  const message = element(where);
  message.textContent = text;
  message.classList.toggle("error", Boolean(isError));
}

function nameOf(code) {
  const found = languages.find((language) => language.code === code);
  return found ? found.name : code;
}

function option(code, name) {
  const choice = document.createElement("option");
  choice.value = code;
  choice.textContent = name;
  return choice;
}

// The targets the chosen source reaches (any source's, for "detect").
function targetsOf(source) {
  if (source !== AUTO) {
    const found = languages.find((language) => language.code === source);
    return found ? found.targets : [];
  }
  return [...new Set(languages.flatMap((language) => language.targets))].sort();
}

function fillTargets(wanted) {
  const picker = element("target-language");
  const targets = targetsOf(element("source-language").value);
  picker.replaceChildren(...targets.map((code) => option(code, nameOf(code))));
  picker.value = targets.includes(wanted) ? wanted : targets[0];
  showNames();
}

function showNames() {
  const source = element("source-language").value;
  const target = element("target-language").value;
  const from = source === AUTO ? (detected ? `${nameOf(detected)} (detected)` : "Detect language") : nameOf(source);
  element("source-name").textContent = from;
  element("target-name").textContent = nameOf(target);
  element("pair").textContent = `${from} → ${nameOf(target)}`;
  // Swapping needs a way back: the target must be a language some model reads.
  const back = source === AUTO ? detected : source;
  element("swap").disabled = !(back && targetsOf(target).includes(back));
}

function swap() {
  const source = element("source-language");
  const old = source.value === AUTO ? detected : source.value;
  source.value = element("target-language").value;
  detected = null;
  fillTargets(old);
  const translation = element("translation").value;
  if (translation) {
    element("source").value = translation;
    element("translation").value = "";
  }
}

async function loadLanguages() {
  const response = await fetch("languages");
  languages = await response.json();
  const sources = languages.filter((language) => language.targets.length > 0);
  const picker = element("source-language");
  picker.replaceChildren(
    option(AUTO, "Detect language"),
    ...sources.map((language) => option(language.code, language.name)),
  );
}

async function loadSettings() {
  try {
    await loadLanguages();
    const response = await fetch("frontend/settings");
    const body = await response.json();
    settings.keyRequired = body.keyRequired;
    element("source-language").value = body.language.source.code;
    fillTargets(body.language.target.code);
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
  const request = {
    q: element("source").value,
    format: "text",
    source: element("source-language").value,
    target: element("target-language").value,
  };
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
    if (body.detectedLanguage) {
      detected = body.detectedLanguage.language;
      showNames();
    }
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
  form.append("source", element("source-language").value);
  form.append("target", element("target-language").value);
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
  element("source-language").addEventListener("change", () => {
    detected = null;
    fillTargets(element("target-language").value);
  });
  element("target-language").addEventListener("change", showNames);
  element("swap").addEventListener("click", swap);
  element("file-form").addEventListener("submit", translateFile);
  element("source").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      element("translate-form").requestSubmit();
    }
  });
  loadSettings();
});
