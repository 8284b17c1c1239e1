/** Characters per sealed block: large enough that V8 allocates the block in large-object space. */
const BLOCK_CHARS = 256 * 1024;

/**
 * The lines of a large payload (300-400k lines at 10k services). Kept as one string per line,
 * every line would survive young-generation collections until the final join and be copied by
 * each of them; here pending lines are joined into ~256k-character blocks as they arrive, and
 * V8 allocates blocks that size outside the young generation, where nothing copies them. The
 * blocks are handed out as they are (see {@link PayloadChunks}): joining them into one string
 * would copy the whole payload once more only to write it to a pipe.
 */
export class TextBlocks {
  #blocks: string[] = [];
  #pending: string[] = [];
  #pendingChars = 0;
  #lines = 0;

  /** Lines appended so far. */
  get lines(): number {
    return this.#lines;
  }

  /** Appends `text`, which holds `lines` lines (joined by newlines, without a trailing one). */
  push(text: string, lines = 1): void {
    this.#pending.push(text);
    this.#pendingChars += text.length;
    this.#lines += lines;
    if (this.#pendingChars >= BLOCK_CHARS) this.#seal();
  }

  /** Appends every line of `other`. */
  append(other: TextBlocks): void {
    this.#seal();
    for (const block of other.chunks()) this.#blocks.push(block);
    this.#lines += other.#lines;
  }

  #seal(): void {
    if (this.#pending.length === 0) return;
    this.#pending.push(""); // every block ends with a newline
    this.#blocks.push(this.#pending.join("\n"));
    this.#pending = [];
    this.#pendingChars = 0;
  }

  /** The text in consecutive pieces, each ending with a newline; none when empty. */
  chunks(): readonly string[] {
    this.#seal();
    return this.#blocks;
  }
}

/** A payload as consecutive pieces, joined into one string only when asked for. */
export interface PayloadChunks {
  /** The pieces of `payload`, in order: writing them one after the other writes the payload. */
  readonly chunks: readonly string[];
  /** The whole payload (joined from `chunks` on first use). */
  readonly payload: string;
}

/** Adds `chunks` and a lazily joined `payload` holding the lines of `text` to `fields`. */
export function withPayload<T extends object>(fields: T, text: TextBlocks): T & PayloadChunks {
  const chunks = text.chunks();
  let joined: string | undefined;
  return Object.defineProperties(fields, {
    chunks: { value: chunks, enumerable: true },
    payload: {
      get: () => {
        joined ??= chunks.length === 1 ? chunks[0]! : chunks.join("");
        return joined;
      },
      enumerable: true,
    },
  }) as T & PayloadChunks;
}
