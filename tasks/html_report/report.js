// The dialogue browser: a filtered list of the run's dialogues, and the one clicked, shown as a chat.
(() => {
  "use strict";
  const data = JSON.parse(document.getElementById("dialogs-data").textContent);
  const dialogs = data.dialogs;
  const $ = (id) => document.getElementById(id);
  const filters = { tool: $("filter-tool"), category: $("filter-category"), type: $("filter-type"), status: $("filter-status") };
  const body = document.querySelector("#dialog-list tbody");
  const view = $("dialog-view");

  // An element with a class and a text (text is never parsed as HTML).
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // JSON text indented, or the text as it is when it is not JSON.
  function pretty(text) {
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text || ""; }
  }

  for (const d of dialogs) {
    d.search = [d.id, d.request, d.tool, ...d.tools, ...d.functions].join(" ").toLowerCase();
  }
  for (const [key, select] of Object.entries(filters)) {
    for (const value of [...new Set(dialogs.map((d) => d[key]).filter(Boolean))].sort()) {
      select.append(new Option(value, value));
    }
  }

  const rows = dialogs.map((d, index) => {
    const row = el("tr", "dialog-row status-" + d.status);
    row.dataset.id = d.id;
    row.dataset.index = String(index);
    row.tabIndex = 0;
    const id = el("td", "id");
    id.append(el("span", "dot", ""), el("code", "", d.id));
    id.title = d.status + (d.rule ? ": " + d.rule : "");
    row.append(id, el("td", "", d.type.replace("_", " ")), el("td", "num", d.calls), el("td"));
    row.lastChild.append(el("div", "request", d.request));
    row.addEventListener("click", () => open(index));
    row.addEventListener("keydown", (e) => { if (e.key === "Enter") open(index); });
    body.append(row);
    return row;
  });

  function applyFilters() {
    const words = $("search").value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    dialogs.forEach((d, i) => {
      const visible = words.every((w) => d.search.includes(w)) &&
        Object.entries(filters).every(([key, select]) => !select.value || d[key] === select.value);
      rows[i].hidden = !visible;
      shown += visible ? 1 : 0;
    });
    $("shown-count").textContent = String(shown);
  }
  $("search").addEventListener("input", applyFilters);
  Object.values(filters).forEach((select) => select.addEventListener("change", applyFilters));

  function bubble(role, label, text) {
    const box = el("div", "msg " + role);
    if (label) box.append(el("div", "label", label));
    box.append(el("div", "text", text));
    return box;
  }

  function message(m, last) {
    const out = [];
    if (m.role === "user") {
      out.push(bubble(m.clarification ? "user clarification" : "user", m.clarification ? "User — reply to the question" : "User", m.content));
    } else if (m.role === "tool") {
      const box = el("div", "msg tool");
      const ok = m.status_code >= 200 && m.status_code < 300;
      const head = el("div", "label", "Result of ");
      head.append(el("code", "", m.name), " (" + (m.tool_call_id || "") + ") ", el("span", "code " + (ok ? "ok" : "error"), m.status_code ?? "?"));
      box.append(head, el("pre", "", pretty(m.content)));
      out.push(box);
    } else {
      if (m.thought) out.push(bubble("thought", "Thought", m.thought));
      for (const call of m.tool_calls || []) {
        const box = el("div", "msg call");
        const head = el("div", "label", "Call " + call.id + " → ");
        head.append(el("code", "fn", call.name));
        box.append(head, el("pre", "", pretty(call.arguments)));
        out.push(box);
      }
      if (m.content || !(m.tool_calls || []).length) {
        const label = m.clarification ? "Assistant — clarifying question" : last ? "Assistant — final answer" : "Assistant";
        out.push(bubble("assistant" + (m.clarification ? " clarification" : ""), label, m.content));
      }
    }
    return out;
  }

  function open(index) {
    const d = dialogs[index];
    rows.forEach((row, i) => row.classList.toggle("selected", i === index));
    view.replaceChildren();
    const title = el("h3", "");
    title.append(el("code", "", d.id), " ", el("span", "badge status-" + d.status, d.status));
    view.append(title);
    const meta = [d.type.replace("_", " "), "tool " + d.tool + (d.category ? " (" + d.category + ")" : ""),
      "offered " + d.tools.join(", "), d.calls + " call" + (d.calls === 1 ? "" : "s"), d.complexity];
    if (d.ending !== "final_answer") meta.push("ended: " + d.ending + (d.ending_detail ? " — " + d.ending_detail : ""));
    view.append(el("p", "meta-line", meta.join(" · ")));
    if (d.status === "rejected") {
      const box = el("div", "rejection");
      box.append(el("strong", "", "Rejected by "), el("code", "", d.rule || "?"), el("div", "", d.reason));
      view.append(box);
    }
    const chat = el("div", "chat");
    const lastAssistant = d.messages.map((m) => m.role).lastIndexOf("assistant");
    d.messages.forEach((m, i) => chat.append(...message(m, i === lastAssistant)));
    view.append(chat);
    if (d.verdicts.length) {
      const list = el("ul", "verdicts");
      for (const [check, layer, passed, reason] of d.verdicts) {
        const item = el("li", passed ? "pass" : "fail", (passed ? "✓ " : "✗ ") + check + " (" + layer + ")");
        if (reason) item.append(el("span", "reason", " " + reason));
        list.append(item);
      }
      view.append(el("h4", "", "Verdicts"), list);
    }
    history.replaceState(null, "", "#dialog=" + encodeURIComponent(d.id));
  }

  applyFilters();
  const wanted = decodeURIComponent((location.hash.match(/^#dialog=(.+)$/) || [])[1] || "");
  const start = dialogs.findIndex((d) => d.id === wanted);
  if (start >= 0) open(start);
})();
