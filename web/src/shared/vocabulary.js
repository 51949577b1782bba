// vocabulary.js - every code list and its Chinese label, from GET /api/v1/vocabulary (served by
// patrold from service/core/vocab.c). Pages and apps take every label, every list of codes and
// every error message from here; nothing in web/ spells a code list or a label of its own.

export class Vocabulary {
  constructor(lists) {
    this.lists = lists;
    this.index = {};
    for (const [name, terms] of Object.entries(lists)) this.index[name] = new Map(terms.map((t, i) => [t.code, { ...t, rank: i }]));
  }

  // The terms of a list ("statuses") in the server's order: [{code, label, ...}].
  terms(list) { return this.lists[list] || []; }

  // One term, with its position in the list as `rank`; undefined when the code is unknown.
  term(list, code) { return this.index[list] && this.index[list].get(code); }

  // The Chinese label of a code; an unknown code (a newer server) shows as itself.
  label(list, code) {
    const t = this.term(list, code);
    return t ? t.label : code == null ? "" : String(code);
  }

  // Whether the term of a code has a flag set ("open" for statuses, "settable" for unit statuses).
  flag(list, code, name) {
    const t = this.term(list, code);
    return !!(t && t[name]);
  }

  // The codes of a list, optionally only those whose term passes `keep` (t => t.open).
  codes(list, keep) { return this.terms(list).filter(keep || (() => true)).map((t) => t.code); }

  // Position of a code in its list (lists are ordered: levels from province down, roles by
  // power), or -1.
  rank(list, code) {
    const t = this.term(list, code);
    return t ? t.rank : -1;
  }

  // The message to show for an ApiError: the label of its code (a query parameter's own
  // invalid_<name> falls back to invalid_field), with the field at fault.
  errorText(err) {
    if (!err) return "";
    let t = err.code && this.term("error_codes", err.code);
    if (!t && err.code && err.code.startsWith("invalid_")) t = this.term("error_codes", "invalid_field");
    const text = t ? t.label : err.message || String(err);
    return err.field ? text + "（" + err.field + "）" : text;
  }
}

// Fetches the vocabulary (the browser revalidates it by its ETag).
export async function loadVocabulary(api) {
  return new Vocabulary(await api.get("/api/v1/vocabulary"));
}
