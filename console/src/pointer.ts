// Where each JSON Pointer of a JSON text sits in it, so that a problem the server reports at a pointer can be
// shown at its place in the editor. A small scanner, not JSON.parse: that one forgets positions.

/** A place in the text: from..to covers the value. */
export interface Span {
  from: number;
  to: number;
}

/** A syntax error at an offset. */
export class JSONSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Maps every pointer of text to its span; throws JSONSyntaxError on text that is not JSON. */
export function pointerMap(text: string): Map<string, Span> {
  const spans = new Map<string, Span>();
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text[i])) i++;
  };
  const fail = (what: string): never => {
    throw new JSONSyntaxError(i >= text.length ? `unexpected end of text: ${what}` : `${what}, not ${JSON.stringify(text[i])}`, i);
  };
  const str = (): string => {
    const start = i;
    i++; // the opening quote
    while (i < text.length && text[i] !== '"') {
      if (text[i] === "\\") i++;
      else if (text.charCodeAt(i) < 0x20) fail("a control character in a string");
      i++;
    }
    if (i >= text.length) fail("a closing quote");
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      i = start;
      return fail("a valid string");
    }
  };
  const escape = (key: string) => key.replace(/~/g, "~0").replace(/\//g, "~1");
  const value = (ptr: string): void => {
    ws();
    const from = i;
    const c = text[i];
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") i++;
      else
        for (;;) {
          ws();
          if (text[i] !== '"') fail('a key in quotes ("name")');
          const key = str();
          ws();
          if (text[i] !== ":") fail('a ":" after the key');
          i++;
          value(ptr + "/" + escape(key));
          ws();
          if (text[i] === ",") {
            i++;
            continue;
          }
          if (text[i] === "}") {
            i++;
            break;
          }
          fail('a "," or "}"');
        }
    } else if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") i++;
      else
        for (let n = 0; ; n++) {
          value(ptr + "/" + n);
          ws();
          if (text[i] === ",") {
            i++;
            continue;
          }
          if (text[i] === "]") {
            i++;
            break;
          }
          fail('a "," or "]"');
        }
    } else if (c === '"') {
      str();
    } else {
      const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
      if (!m) fail("a value");
      i += m![0].length;
    }
    spans.set(ptr, { from, to: i });
  };
  value("");
  ws();
  if (i < text.length) fail("the end of the text");
  return spans;
}

/** The span of ptr, or of its nearest parent that the text has (a missing field is shown on its object). */
export function locate(spans: Map<string, Span>, ptr: string): Span {
  let p = ptr;
  for (;;) {
    const s = spans.get(p);
    if (s) return s;
    if (p === "") return { from: 0, to: 0 };
    p = p.slice(0, p.lastIndexOf("/"));
  }
}

/** The action index a pointer falls in (/actions/3/option/text → 3), or -1. */
export function actionIndex(ptr: string): number {
  const m = /^\/actions\/(\d+)(?:\/|$)/.exec(ptr);
  return m ? Number(m[1]) : -1;
}
