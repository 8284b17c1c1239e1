/** Characters per sealed block: large enough that V8 allocates the block in large-object space. */
const BLOCK_CHARS = 256 * 1024;

/**
 * The lines of a large payload (300-400k lines at 10k services). Kept as one string per line,
 * every line would survive young-generation collections until the final join and be copied by
 * each of them; here pending lines are joined into ~256k-character blocks as they arrive, and
 * V8 allocates blocks that size outside the young generation, where nothing copies them.
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
    other.#seal();
    for (const block of other.#blocks) this.#blocks.push(block);
    this.#lines += other.#lines;
  }

  #seal(): void {
    if (this.#pending.length === 0) return;
    this.#blocks.push(this.#pending.join("\n"));
    this.#pending = [];
    this.#pendingChars = 0;
  }

  /** Every line, each ending in a newline; "" when there is none. */
  toString(): string {
    this.#seal();
    return this.#blocks.length === 0 ? "" : `${this.#blocks.join("\n")}\n`;
  }
}
