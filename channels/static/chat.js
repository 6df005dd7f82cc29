/*
 * Liaison web chat — talks to the Rasa-compatible REST webhook.
 *
 * Plain ES2019, no framework, no build step, nothing fetched from another origin.
 * Text from the server or from the parent is only ever inserted as text nodes (never
 * innerHTML); http(s) URLs are split out of the text and turned into <a> elements.
 *
 * Storage (localStorage, in-memory when it is unavailable):
 *   liaison.sender                 "web-<uuid>", kept across page loads and language changes
 *   liaison.conversation.<sender>  {lang, messages: [{from: "user"|"bot"|"staff", text, buttons}]}
 *   liaison.staff-after.<sender>   id of the last message from the school's staff shown
 * With no stored conversation (or one held in another language) the page silently sends
 * "/greet" so the assistant's welcome appears in the page's language. An invitation link
 * (/?atelier=<ref>) silently sends that workshop's enrolment payload instead, a school's join
 * link (/?ecole=<code>) the payload that joins that school.
 *
 * Quick replies: only the buttons of the assistant's latest answer are active; they are
 * disabled as soon as the parent sends anything.
 *
 * Messages from a person of the school (the staff inbox) come later than any answer: the page
 * asks GET /chat/messages for them on load, every 20 s while it is shown, when it comes back
 * to the front and after each answer.
 */
"use strict";

(() => {
  const root = document.getElementById("chat");
  if (!root) return;

  const log = document.getElementById("chat-log");
  const scroller = document.getElementById("chat-scroller");
  const typing = document.getElementById("chat-typing");
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-input");
  const picker = document.getElementById("lang-picker");
  const langGo = document.getElementById("lang-go");

  const strings = root.dataset;
  const lang = document.documentElement.lang || "fr";
  const webhookUrl = strings.webhookUrl || "/webhooks/rest/webhook";
  const HISTORY_LIMIT = 100;
  const TIMEOUT_MS = 30000;

  // -- storage --------------------------------------------------------------------------

  const memory = new Map();
  const store = {
    get(key) {
      if (memory.has(key)) return memory.get(key);
      try {
        return window.localStorage.getItem(key);
      } catch (error) {
        return null; // storage disabled (private mode, blocked cookies): memory only
      }
    },
    set(key, value) {
      try {
        window.localStorage.setItem(key, value);
        memory.delete(key);
      } catch (error) {
        memory.set(key, value); // quota exceeded or storage disabled
      }
    },
  };

  function uuid4() {
    const cryptoObj = window.crypto;
    if (cryptoObj && typeof cryptoObj.randomUUID === "function") return cryptoObj.randomUUID();
    // randomUUID only exists in secure contexts; getRandomValues exists everywhere.
    const bytes = new Uint8Array(16);
    if (cryptoObj && typeof cryptoObj.getRandomValues === "function") {
      cryptoObj.getRandomValues(bytes);
    } else {
      for (let i = 0; i < 16; i += 1) bytes[i] = Math.floor(Math.random() * 256);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  const SENDER_KEY = "liaison.sender";
  let sender = store.get(SENDER_KEY);
  if (!sender || !/^web-[0-9a-f-]{36}$/.test(sender)) {
    sender = `web-${uuid4()}`;
    store.set(SENDER_KEY, sender);
  }
  const historyKey = `liaison.conversation.${sender}`;

  function loadHistory() {
    const raw = store.get(historyKey);
    if (!raw) return null;
    try {
      const data = JSON.parse(raw);
      if (data && Array.isArray(data.messages)) return data;
    } catch (error) {
      // A corrupt entry is treated as no conversation: the welcome is asked for again.
    }
    return null;
  }

  let history = loadHistory();

  function save() {
    store.set(historyKey, JSON.stringify(history));
  }

  function forget(message) {
    const index = history ? history.messages.indexOf(message) : -1;
    if (index >= 0) {
      history.messages.splice(index, 1);
      save();
    }
  }

  function remember(message) {
    if (!history) history = { lang, messages: [] };
    history.lang = lang;
    history.messages.push(message);
    if (history.messages.length > HISTORY_LIMIT) {
      history.messages = history.messages.slice(-HISTORY_LIMIT);
    }
    save();
  }

  // -- rendering ------------------------------------------------------------------------

  const URL_PATTERN = /https?:\/\/[^\s<>"«»]+/g;

  function count(text, char) {
    return text.split(char).length - 1;
  }

  // Punctuation that ends a sentence is not part of the link: "voir https://x.fr/a."
  function trimUrl(url) {
    let out = url;
    for (;;) {
      if (/[.,;:!?'’\]}]$/.test(out)) {
        out = out.slice(0, -1);
      } else if (out.endsWith(")") && count(out, "(") < count(out, ")")) {
        out = out.slice(0, -1);
      } else {
        return out;
      }
    }
  }

  function appendRichText(parent, text) {
    let last = 0;
    URL_PATTERN.lastIndex = 0;
    let match = URL_PATTERN.exec(text);
    while (match !== null) {
      const url = trimUrl(match[0]);
      if (/^https?:\/\/[^/?#]/.test(url)) {
        if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
        const link = document.createElement("a");
        link.href = url;
        link.textContent = url;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        link.dir = "ltr"; // a URL reads left to right, even inside Arabic text
        parent.appendChild(link);
        last = match.index + url.length;
      }
      match = URL_PATTERN.exec(text);
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function quickReplyButton(button, active) {
    const element = document.createElement("button");
    element.type = "button";
    element.className = "quick-reply";
    element.dir = "auto";
    element.dataset.testid = "quick-reply";
    element.textContent = button.title;
    element.disabled = !active;
    element.addEventListener("click", (event) => {
      if (element.disabled) return;
      // event.detail is 0 for a keyboard activation: keep keyboard users in the composer,
      // since the button they are on is about to be disabled.
      const fromKeyboard = event.detail === 0;
      send(button.payload, button.title);
      if (fromKeyboard) input.focus();
    });
    return element;
  }

  function renderMessage(message, active) {
    const item = document.createElement("div");
    item.className = `msg msg--${message.from}`;

    const staff = message.from === "staff";
    if (staff) item.className = "msg msg--bot msg--staff"; // a person, shown as such
    const who = document.createElement("span");
    who.className = staff ? "msg__who" : "visually-hidden";
    who.textContent = `${message.from === "user" ? strings.you : staff ? strings.staff : strings.assistant} `;
    item.appendChild(who);

    if (message.text) {
      const bubble = document.createElement("p");
      bubble.className = "msg__bubble";
      bubble.dir = "auto";
      bubble.dataset.testid = message.from === "user" ? "msg-user" : staff ? "msg-staff" : "msg-bot";
      appendRichText(bubble, message.text);
      item.appendChild(bubble);
    }

    const buttons = message.buttons || [];
    if (buttons.length) {
      const group = document.createElement("div");
      group.className = "quick-replies";
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", strings.quickReplies || "");
      buttons.forEach((button) => group.appendChild(quickReplyButton(button, active)));
      item.appendChild(group);
    }

    log.appendChild(item);
    return item;
  }

  function deactivateQuickReplies() {
    log.querySelectorAll("button.quick-reply").forEach((button) => {
      button.disabled = true;
    });
  }

  function scrollToBottom() {
    scroller.scrollTop = scroller.scrollHeight;
  }

  // Show the start of a new answer; a long answer is not scrolled past its first line.
  function reveal(element) {
    const target = element.offsetTop - 8;
    scroller.scrollTop = Math.min(target, scroller.scrollHeight - scroller.clientHeight);
  }

  function showError(kind, retryMessage) {
    const item = document.createElement("div");
    item.className = "msg msg--bot msg--error";
    const bubble = document.createElement("p");
    bubble.className = "msg__bubble msg__bubble--error";
    bubble.dataset.testid = "msg-error";
    const texts = {
      network: strings.errorNetwork,
      server: strings.errorServer,
      "too-long": strings.errorTooLong,
    };
    bubble.textContent = texts[kind] || strings.errorServer;
    item.appendChild(bubble);
    if (retryMessage !== undefined) {
      const retry = document.createElement("button");
      retry.type = "button";
      retry.className = "quick-reply quick-reply--retry";
      retry.textContent = strings.retry;
      retry.addEventListener("click", () => {
        item.remove();
        enqueue(retryMessage, null);
        input.focus();
      });
      item.appendChild(retry);
    }
    log.appendChild(item);
    scrollToBottom();
  }

  function setTyping(on) {
    typing.hidden = !on;
    if (on) scrollToBottom();
  }

  // -- talking to the server ------------------------------------------------------------

  class ChatError extends Error {
    constructor(kind) {
      super(kind);
      this.kind = kind; // "network" | "server" | "too-long"
    }
  }

  async function post(message) {
    const controller = typeof AbortController === "function" ? new AbortController() : null;
    const timer = controller ? window.setTimeout(() => controller.abort(), TIMEOUT_MS) : 0;
    try {
      let response;
      try {
        response = await fetch(webhookUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ sender, message, metadata: { language: lang } }),
          signal: controller ? controller.signal : undefined,
        });
      } catch (error) {
        throw new ChatError("network");
      }
      if (response.status === 413) throw new ChatError("too-long");
      if (!response.ok) throw new ChatError("server");
      let data;
      try {
        data = await response.json();
      } catch (error) {
        throw new ChatError("server");
      }
      if (!Array.isArray(data)) throw new ChatError("server");
      return data;
    } finally {
      window.clearTimeout(timer);
    }
  }

  function showReplies(replies) {
    let first = null;
    replies.forEach((reply) => {
      if (!reply || typeof reply !== "object") return;
      const text = typeof reply.text === "string" ? reply.text : "";
      const buttons = (Array.isArray(reply.buttons) ? reply.buttons : [])
        .filter((b) => b && typeof b.title === "string" && b.title && typeof b.payload === "string")
        .map((b) => ({ title: b.title, payload: b.payload }));
      if (!text && !buttons.length) return;
      const message = { from: "bot", text, buttons };
      const item = renderMessage(message, true);
      remember(message);
      if (!first) first = item;
    });
    if (first) reveal(first);
  }

  // Messages go out one at a time, in order, so answers never cross.
  let queue = Promise.resolve();
  let pending = 0;

  // `sent` is the parent's bubble ({item, message}) if there is one: a message the server
  // refuses as too long is taken back out of the log and put back in the input to shorten.
  function enqueue(message, sent) {
    pending += 1;
    setTyping(true);
    queue = queue
      .then(() => post(message))
      .then(
        (replies) => {
          setTyping(pending > 1);
          showReplies(replies);
          fetchStaffMessages();
        },
        (error) => {
          setTyping(pending > 1);
          const kind = error instanceof ChatError ? error.kind : "server";
          if (kind === "too-long" && sent) {
            sent.item.remove();
            forget(sent.message);
            if (!input.value) input.value = message;
          }
          showError(kind, kind === "too-long" ? undefined : message);
        },
      )
      .finally(() => {
        pending -= 1;
        if (!pending) setTyping(false);
      });
  }

  // Send `message` to the assistant; `shown` is the parent's bubble (null: send silently).
  function send(message, shown) {
    let sent = null;
    if (shown !== null) {
      deactivateQuickReplies();
      const bubble = { from: "user", text: shown };
      sent = { item: renderMessage(bubble, false), message: bubble };
      remember(bubble);
      scrollToBottom();
    }
    enqueue(message, sent);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) {
      input.value = "";
      input.focus();
      return;
    }
    input.value = "";
    send(text, text);
  });

  // -- messages from the school's staff -------------------------------------------------

  const messagesUrl = strings.messagesUrl || "";
  const AFTER_KEY = `liaison.staff-after.${sender}`;
  const POLL_MS = 20000;
  let fetching = false;

  async function fetchStaffMessages() {
    if (!messagesUrl || fetching || document.visibilityState === "hidden") return;
    fetching = true;
    try {
      const stored = store.get(AFTER_KEY) || "";
      const after = /^[0-9]{1,18}$/.test(stored) ? stored : "0";
      const query = `sender=${encodeURIComponent(sender)}&after=${after}`;
      const response = await fetch(`${messagesUrl}?${query}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) return;
      const data = await response.json();
      let first = null;
      let last = null;
      (data && Array.isArray(data.messages) ? data.messages : []).forEach((raw) => {
        if (!raw || typeof raw.text !== "string" || !Number.isSafeInteger(raw.id)) return;
        const message = { from: "staff", text: raw.text, buttons: [] };
        const item = renderMessage(message, false);
        remember(message);
        if (!first) first = item;
        last = raw.id;
      });
      if (last !== null) store.set(AFTER_KEY, String(last));
      if (first) reveal(first);
    } catch (error) {
      // Offline or a server hiccup: the next time asks again.
    } finally {
      fetching = false;
    }
  }

  window.setInterval(fetchStaffMessages, POLL_MS);
  window.addEventListener("focus", fetchStaffMessages);
  document.addEventListener("visibilitychange", fetchStaffMessages);

  // -- language picker ------------------------------------------------------------------

  function goToLanguage(code) {
    const url = new URL(window.location.href);
    url.searchParams.set("lang", code);
    window.location.assign(url.toString());
  }

  if (picker) {
    // A mouse or touch choice reloads at once. Arrow keys on a closed <select> also fire
    // "change": reloading then would trap keyboard users, so they confirm with Enter or
    // with the "Changer" button that appears.
    let keyboardChoice = false;
    if (langGo) langGo.hidden = true;
    picker.addEventListener("pointerdown", () => {
      keyboardChoice = false;
    });
    picker.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        if (picker.value !== lang) goToLanguage(picker.value);
        return;
      }
      if (event.key !== "Tab" && event.key !== "Shift") keyboardChoice = true;
    });
    picker.addEventListener("change", () => {
      if (picker.value === lang) {
        if (langGo) langGo.hidden = true;
      } else if (keyboardChoice && langGo) {
        langGo.hidden = false;
      } else {
        goToLanguage(picker.value);
      }
    });
  }

  // -- start ----------------------------------------------------------------------------

  if (history && history.messages.length) {
    log.setAttribute("aria-busy", "true");
    let lastUser = -1;
    history.messages.forEach((message, index) => {
      if (message.from === "user") lastUser = index;
    });
    history.messages.forEach((message, index) => {
      renderMessage(message, message.from === "bot" && index > lastUser);
    });
    log.removeAttribute("aria-busy");
    scrollToBottom();
  }

  if (strings.school) {
    // A school's join link (/?ecole=<code>): join it (with the welcome on a first visit),
    // once: the address loses its ?ecole= so a reload does not join again.
    send("/join_school" + JSON.stringify({ code: strings.school }), null);
    const url = new URL(window.location.href);
    url.searchParams.delete("ecole");
    window.history.replaceState(null, "", url.toString());
  } else if (strings.workshop) {
    // An invitation link (/?atelier=<ref>): straight to enrolling in that workshop (with the
    // welcome on a first visit), once: the address loses its ?atelier= so a reload does not
    // start again.
    send("/workshop_enrol" + JSON.stringify({ workshop: strings.workshop }), null);
    const url = new URL(window.location.href);
    url.searchParams.delete("atelier");
    window.history.replaceState(null, "", url.toString());
  } else if (!history || !history.messages.length || history.lang !== lang) {
    // First visit, or the parent switched language: the welcome, in the page's language.
    send("/greet", null);
  } else {
    fetchStaffMessages();
  }
})();
