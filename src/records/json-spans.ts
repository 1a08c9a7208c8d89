import { CofferError } from "../core/errors.js";

/** Where an array sits in a JSON text: its brackets, and each element's first and past-last character. */
export interface ArraySpans {
  open: number;
  close: number;
  elements: { start: number; end: number }[];
}

/**
 * Finds the record array in a JSON text that `JSON.parse` accepts: the top-level array, or the
 * array under `key` of a top-level object (the last one, as JSON.parse keeps the last of
 * repeated keys). Knowing the spans lets the live file be rewritten by cutting elements out of
 * the original text, so everything else (indentation, key order, number spelling, escapes)
 * stays byte for byte.
 */
export function findArraySpans(text: string, key: string | undefined): ArraySpans {
  const s = new Scanner(text);
  s.ws();
  if (key === undefined) {
    if (text[s.i] !== "[") throw new CofferError("INVALID", "The JSON file holds an object, not an array; give the key of the record array (--key).");
    return s.array(true) as ArraySpans;
  }
  if (text[s.i] !== "{") throw new CofferError("INVALID", `The JSON file holds an array, not an object with "${key}"; leave out --key.`, { key });
  let found: ArraySpans | undefined;
  s.i++;
  s.ws();
  if (text[s.i] === "}") s.i++;
  else {
    for (;;) {
      s.ws();
      const end = s.stringEnd();
      const name = JSON.parse(text.slice(s.i, end)) as string;
      s.i = end;
      s.ws();
      s.i++; // ':'
      s.ws();
      if (name === key) {
        if (text[s.i] !== "[") throw new CofferError("INVALID", `"${key}" in the JSON file is not an array of records.`, { key });
        found = s.array(true) as ArraySpans;
      } else s.value();
      s.ws();
      if (text[s.i++] === "}") break;
    }
  }
  if (!found) throw new CofferError("INVALID", `The JSON file has no "${key}" key; give the key that holds the records.`, { key });
  return found;
}

class Scanner {
  i = 0;
  constructor(readonly t: string) {}

  ws(): void {
    while (this.i < this.t.length && " \t\n\r".includes(this.t[this.i] as string)) this.i++;
  }

  /** Index just past the string starting at `i`. */
  stringEnd(): number {
    let j = this.i + 1;
    for (;;) {
      const c = this.t[j];
      if (c === undefined) throw new CofferError("INVALID", "The JSON text ends inside a string.");
      if (c === "\\") j += 2;
      else if (c === '"') return j + 1;
      else j++;
    }
  }

  value(): void {
    const c = this.t[this.i];
    if (c === "[") this.array(false);
    else if (c === "{") this.object();
    else if (c === '"') this.i = this.stringEnd();
    else while (this.i < this.t.length && !",]} \t\n\r".includes(this.t[this.i] as string)) this.i++;
  }

  object(): void {
    this.i++;
    this.ws();
    if (this.t[this.i] === "}") {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      this.i = this.stringEnd();
      this.ws();
      this.i++;
      this.ws();
      this.value();
      this.ws();
      if (this.t[this.i++] === "}") return;
    }
  }

  array(spans: boolean): ArraySpans | undefined {
    const open = this.i++;
    const elements: ArraySpans["elements"] = [];
    this.ws();
    if (this.t[this.i] === "]") return spans ? { open, close: this.i++, elements } : void this.i++;
    for (;;) {
      this.ws();
      const start = this.i;
      this.value();
      if (spans) elements.push({ start, end: this.i });
      this.ws();
      const c = this.t[this.i++];
      if (c === "]") return spans ? { open, close: this.i - 1, elements } : undefined;
      if (c !== ",") throw new CofferError("INVALID", "The JSON text is not well formed.");
    }
  }
}
