/** Session ids in a process pool start with their media process (`p3-<uuid>`), so the front door routes without state. */
const OWNER = /^p(\d{1,2})-/;

/** The prefix of session ids made by media process `index`. */
export function sessionIdPrefix(index: number | undefined): string {
  return index === undefined ? '' : `p${index}-`;
}

/** The media process that owns a session id, or undefined for ids without an owner prefix. */
export function ownerOfSessionId(id: string): number | undefined {
  const m = OWNER.exec(id);
  return m ? Number(m[1]) : undefined;
}
