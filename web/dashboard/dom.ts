// Small DOM helpers. Every value reaches the page as text (textContent), never as markup: tenant
// and covenant names come from clients.

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

export function setText(id: string, text: string): void {
  byId(id).textContent = text;
}

export interface Column<R> {
  title: string;
  cell: (row: R) => string;
  /** Numbers are right-aligned. */
  numeric?: boolean;
  /** A class for the cell, e.g. a breaker phase's colour. */
  className?: (row: R) => string;
}

/** Replaces a table's body (and header, the first time) with rows; an empty-state row if none. */
export function fillTable<R>(id: string, columns: Column<R>[], rows: R[], empty: string, note?: string): void {
  const table = byId<HTMLTableElement>(id);
  if (!table.tHead) {
    const head = table.createTHead().insertRow();
    for (const c of columns) head.append(el("th", c.numeric ? { class: "num" } : {}, c.title));
  }
  const body = el("tbody");
  for (const r of rows) {
    const tr = el("tr");
    for (const c of columns) tr.append(el("td", { class: [c.numeric ? "num" : "", c.className?.(r) ?? ""].join(" ").trim() }, c.cell(r)));
    body.append(tr);
  }
  if (rows.length === 0 || note) {
    const tr = el("tr", { class: "note" });
    tr.append(el("td", { colspan: String(columns.length) }, rows.length === 0 ? empty : note!));
    body.append(tr);
  }
  table.tBodies[0]?.remove();
  table.append(body);
  table.dataset.rows = String(rows.length);
}
