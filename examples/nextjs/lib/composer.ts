// What the ChatKit composer offers: the backend's composer tools (also as "/" commands), the models, dictation and
// attachments the session function says this backend has. The tool ids are the backend's allow-list: it honours them through
// `inference_options.tool_choice` and refuses any other id in words.
import type { Command, ComposerOption, ModelOption, ToolOption } from "@openai/chatkit";
import type { ChatSession } from "@/lib/chat-session";

export const COMPOSER_TOOLS = [
  {
    id: "plan_my_day",
    label: "Plan my day",
    icon: "analytics",
    placeholderOverride: "Anything to keep in mind for today?",
  },
  { id: "whats_left", label: "What's left", icon: "agent", placeholderOverride: "Ask about what is still to do" },
  { id: "add_task", label: "Add a task", icon: "atom", placeholderOverride: "The task to add" },
] as const satisfies readonly ToolOption[];

/** The "/" commands: one per composer tool, matched on its id or label. */
export function searchCommands(query: string): Command[] {
  const wanted = query.trim().toLowerCase().replace(/^\//, "");
  return COMPOSER_TOOLS.filter(
    (tool) => !wanted || tool.id.includes(wanted.replace(/\s+/g, "_")) || tool.label.toLowerCase().includes(wanted),
  ).map((tool) => ({ id: tool.id, label: tool.label, icon: tool.icon, group: "Tools" }));
}

const MiB = 1024 * 1024;

/** The files the backend takes, by MIME type with their extensions, and its size limit per kind: the composer
 * refuses the rest before uploading, and the backend refuses them again in words. */
export const ATTACHMENTS = {
  accept: {
    "image/png": [".png"],
    "image/jpeg": [".jpg", ".jpeg"],
    "image/webp": [".webp"],
    "image/gif": [".gif"],
    "text/plain": [".txt"],
    "text/csv": [".csv"],
    "text/markdown": [".md", ".markdown"],
  },
  maxSize: { "image/*": 5 * MiB, "text/*": 256 * 1024 },
  maxCount: 4,
} satisfies Omit<NonNullable<ComposerOption["attachments"]>, "enabled">;

/** The models the session response offers (the chat function's allow-list, its default first), as the composer's
 * model picker takes them; no picker when there is nothing to choose between (one model, or none listed). */
function modelOptions(models: ChatSession["models"]): ModelOption[] | undefined {
  if (!Array.isArray(models) || models.length < 2) return undefined;
  return models.map((model) => ({ id: model.id, label: model.label ?? model.id, default: model.default === true }));
}

/** The composer's options. Dictation is on only when the session response says the backend can transcribe
 * (`dictation: true`), attachments only when it says it takes them (`attachments: true`); a response without such
 * a field means off, the safe default: a backend without it refuses `input.transcribe` or `attachments.create`. */
export function composerOption(
  session: Pick<ChatSession, "models" | "dictation" | "attachments"> | null,
): ComposerOption {
  const models = modelOptions(session?.models);
  return {
    placeholder: "Ask about your tasks, or type / for tools",
    tools: [...COMPOSER_TOOLS],
    ...(models ? { models } : {}),
    dictation: { enabled: session?.dictation === true },
    attachments: session?.attachments === true ? { enabled: true, ...ATTACHMENTS } : { enabled: false },
  };
}
