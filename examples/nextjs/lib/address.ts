// The conversation shown is kept in the address (`#thr_...`), so a reload, a bookmark or another tab reopens it.
export function conversationInAddress(): string | null {
  if (typeof window === "undefined") return null;
  const hash = window.location.hash.slice(1);
  return hash.startsWith("thr_") ? hash : null;
}

export function showConversationInAddress(id: string | null): void {
  window.history.replaceState(null, "", id ? `#${id}` : window.location.pathname + window.location.search);
}
