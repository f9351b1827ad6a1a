// A TEST DOUBLE of ChatKit's <openai-chatkit> web component, served to the browser in place of the script from
// OpenAI's CDN (which the test machine cannot reach). It is not ChatKit: it is a small client of ChatKit's wire
// protocol, so the app's ChatKit configuration is exercised end to end against the real backend. It
//   - takes what @openai/chatkit-react hands `setOptions` (api.url, api.fetch, api.domainKey, theme, initialThread,
//     entities.onTagSearch) and shows the scheme and domain key as data attributes;
//   - sends `threads.create` / `threads.add_user_message` (and `threads.get_by_id` for `initialThread`) as JSON
//     through the app's own `api.fetch` (which adds the chat token) to `api.url`;
//   - reads the Server-Sent Events, renders user, assistant and workflow items (tool calls: "add_task: Success"),
//     applies text deltas, and dispatches `chatkit.effect` (client effects such as tasks.changed) and
//     `chatkit.thread.change` the way ChatKit does;
//   - turns a trailing "@word" in the composer into an `input_tag` from `entities.onTagSearch("word")`;
//   - shows `composer.tools` as toggle buttons (and takes `setComposerValue({ selectedToolId })`, which the React
//     control forwards to the element); the selected tool goes out as `inference_options.tool_choice`, as ChatKit
//     sends it, and is cleared after sending unless `persistent`; a composer text "/word" asks `commands.onSearch`
//     and runs `commands.onSelect` on the first command found, as picking it from ChatKit's "/" menu does;
//   - shows every entity of an item (an interactive tag of a user message, an entity annotation of an answer, also
//     when it arrives as `assistant_message.content_part.annotation_added`) as a button that calls
//     `entities.onClick`, with a "Preview" button that calls `entities.onRequestPreview` and shows the text of the
//     widget it returns.
customElements.define("openai-chatkit", class extends HTMLElement {
  setOptions(options) {
    this.options = options;
    this.dataset.colorScheme = options.theme?.colorScheme ?? "";
    this.dataset.domainKey = options.api?.domainKey ?? "";
    this.dataset.dictation = options.composer?.dictation?.enabled ? "on" : "off";
    if (this.log) return this.renderTools();
    this.log = document.createElement("ol");
    this.log.dataset.testid = "chatkit-items";
    const form = document.createElement("form");
    this.input = document.createElement("input");
    this.input.setAttribute("aria-label", "ChatKit message");
    const send = document.createElement("button");
    send.textContent = "Send";
    this.tools = document.createElement("div");
    this.tools.dataset.testid = "chatkit-tools";
    form.append(this.tools, this.input, send);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = this.input.value.trim();
      this.input.value = "";
      if (text.startsWith("/")) this.command(text.slice(1)).catch((error) => this.fail(error));
      else if (text) this.send(text).catch((error) => this.fail(error));
    });
    this.preview = document.createElement("output");
    this.preview.dataset.testid = "entity-preview";
    this.append(this.log, this.preview, form);
    this.renderTools();
    if (options.initialThread) this.load(options.initialThread).catch((error) => this.fail(error));
  }

  renderTools() {
    this.tools.replaceChildren(
      ...(this.options.composer?.tools ?? []).map((tool) => {
        const button = Object.assign(document.createElement("button"), { type: "button", textContent: tool.label });
        button.dataset.toolId = tool.id;
        button.setAttribute("aria-pressed", String(this.selectedTool === tool.id));
        button.addEventListener("click", () =>
          this.setComposerValue({ selectedToolId: this.selectedTool === tool.id ? null : tool.id }),
        );
        return button;
      }),
    );
  }

  // ChatKit's control method: chatkit-react calls it on the element.
  async setComposerValue({ text, selectedToolId } = {}) {
    if (text !== undefined) this.input.value = text;
    if (selectedToolId !== undefined) {
      const known = (this.options.composer?.tools ?? []).some((tool) => tool.id === selectedToolId);
      this.selectedTool = known ? selectedToolId : null;
      this.dataset.selectedTool = this.selectedTool ?? "";
      this.renderTools();
    }
  }

  // "/plan": the first command `commands.onSearch("plan")` offers, run as ChatKit runs a picked command.
  async command(query) {
    const { commands } = this.options;
    if (!commands?.enabled || !commands.onSearch) return;
    const [found] = await commands.onSearch(query);
    if (!found) throw new Error(`no command for /${query}`);
    await commands.onSelect?.(found);
  }

  entityButton(entity) {
    const chip = document.createElement("span");
    chip.dataset.entityId = entity.id;
    const open = Object.assign(document.createElement("button"), { type: "button", textContent: entity.title });
    open.addEventListener("click", () => this.options.entities?.onClick?.(entity));
    const preview = Object.assign(document.createElement("button"), { type: "button", textContent: "Preview" });
    preview.addEventListener("click", async () => {
      const answer = await this.options.entities?.onRequestPreview?.(entity);
      this.preview.textContent = answer?.preview ? widgetText(answer.preview) : "(no preview)";
      this.preview.dataset.entityId = entity.id;
    });
    chip.append(open, preview);
    return chip;
  }

  fail(error) {
    this.dataset.error = String(error?.message ?? error);
    this.dispatchEvent(new CustomEvent("chatkit.error", { detail: { error } }));
  }

  post(body) {
    const { url, fetch } = this.options.api;
    return fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  }

  // "done @milk": the text before the mention, then the tag the composer would have put in its place.
  async content(text) {
    const mention = /@(\S+)$/.exec(text);
    if (!mention || !this.options.entities?.onTagSearch) return [{ type: "input_text", text }];
    const [entity] = await this.options.entities.onTagSearch(mention[1]);
    if (!entity) return [{ type: "input_text", text }];
    const tag = { type: "input_tag", id: entity.id, text: entity.title, data: entity.data, interactive: entity.interactive ?? false };
    return [{ type: "input_text", text: text.slice(0, mention.index) }, tag];
  }

  async load(threadId) {
    const response = await this.post({ type: "threads.get_by_id", params: { thread_id: threadId } });
    if (!response.ok) throw new Error(`threads.get_by_id: ${response.status}`);
    const thread = await response.json();
    this.threadId = thread.id;
    for (const item of thread.items.data) this.render(item);
    this.dataset.loadedThread = thread.id;
  }

  async send(text) {
    const tool = this.selectedTool;
    const inference_options = tool ? { tool_choice: { id: tool } } : {};
    const input = { content: await this.content(text), attachments: [], inference_options };
    const persistent = (this.options.composer?.tools ?? []).find((t) => t.id === tool)?.persistent;
    if (tool && !persistent) await this.setComposerValue({ selectedToolId: null });
    const body = this.threadId
      ? { type: "threads.add_user_message", params: { thread_id: this.threadId, input } }
      : { type: "threads.create", params: { input } };
    const response = await this.post(body);
    if (!response.ok) throw new Error(`${body.type}: ${response.status}`);
    this.dispatchEvent(new CustomEvent("chatkit.response.start"));
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const data = buffer.slice(0, end).split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).join("");
        buffer = buffer.slice(end + 2);
        if (data.trim()) this.handle(JSON.parse(data));
      }
    }
    this.dispatchEvent(new CustomEvent("chatkit.response.end"));
  }

  handle(event) {
    if (event.type === "thread.created") {
      this.threadId = event.thread.id;
      this.dispatchEvent(new CustomEvent("chatkit.thread.change", { detail: { threadId: event.thread.id } }));
    } else if (event.type === "thread.item.added" || event.type === "thread.item.done") {
      this.render(event.item);
    } else if (event.type === "thread.item.updated" && event.update.type === "assistant_message.content_part.text_delta") {
      const text = this.querySelector(`[data-item-id="${event.item_id}"] .text`);
      if (text) text.textContent += event.update.delta;
    } else if (event.type === "thread.item.updated" && event.update.type === "assistant_message.content_part.annotation_added") {
      this.addEntities(event.item_id, [event.update.annotation]);
    } else if (event.type === "client_effect") {
      this.dispatchEvent(new CustomEvent("chatkit.effect", { detail: { name: event.name, data: event.data } }));
    } else if (event.type === "error") {
      this.fail(new Error(event.message ?? event.code));
    }
  }

  render(item) {
    let row = this.querySelector(`[data-item-id="${item.id}"]`);
    if (!row) {
      row = document.createElement("li");
      row.dataset.itemId = item.id;
      row.dataset.type = item.type;
      row.append(Object.assign(document.createElement("span"), { className: "text" }));
      this.log.append(row);
    }
    const text = row.querySelector(".text");
    if (item.type === "user_message" || item.type === "assistant_message") {
      text.textContent = item.content.map((part) => part.text ?? "").join("");
      this.addEntities(item.id, item.content.flatMap((part) => (part.type === "input_tag" ? [part] : part.annotations ?? [])));
    } else if (item.type === "workflow") {
      text.textContent = item.workflow.tasks.map((task) => task.title).join(", ");
    }
  }

  // Tags (input_tag) and entity annotations ({source: {type: "entity", ...}}) of an item, each entity once.
  addEntities(itemId, parts) {
    const row = this.querySelector(`[data-item-id="${itemId}"]`);
    if (!row) return;
    for (const part of parts) {
      const source = part.type === "input_tag" ? { ...part, title: part.text } : part.source;
      if (!source || (part.type !== "input_tag" && source.type !== "entity") || source.interactive === false) continue;
      if (row.querySelector(`[data-entity-id="${source.id}"]`)) continue;
      const { id, title, icon, group, interactive, data } = source;
      row.append(this.entityButton({ id, title, icon, group, interactive, data }));
    }
  }
});

// The words a preview widget shows (its Title, Text, Caption values and Badge labels), in order.
function widgetText(node) {
  const own = node.value ?? node.label ?? "";
  return [own, ...(node.children ?? []).map(widgetText)].filter(Boolean).join(" ");
}
