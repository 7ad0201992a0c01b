/**
 * The offline model's answer to Lookout's repository classifier (the control plane's
 * `triggers/repository-classifier.ts` writes the prompt): the registered repository whose name and
 * description share the most words with the request, as the JSON the classifier asks for. It is
 * deterministic, so tests and the offline demo route the same request the same way every time.
 *
 * The prompt it reads: the first line `REPOSITORY_CLASSIFIER_HEADER`, one `- <full name>: <description>`
 * line per repository, then the request inside a fence that opens with a line of three or more
 * backticks followed by `untrusted`.
 */

/** The user message's first line, by which the server recognises a classification. */
export const REPOSITORY_CLASSIFIER_HEADER = "Which of these repositories is the request below about?";

/** The confidence of a pick whose score leads the next best by one word; each further word adds a little. */
const MIN_LEAD_CONFIDENCE = 0.7;
const CONFIDENCE_PER_EXTRA_WORD = 0.05;
const MAX_CONFIDENCE = 0.95;
/** A tie is a guess: below the classifier's threshold, so Lookout asks instead. */
const TIE_CONFIDENCE = 0.4;
/** A word of a repository's name counts this many times a word of its description. */
const NAME_WEIGHT = 2;

/** Words that say nothing about which repository is meant. */
const STOPWORDS = new Set(
  "the and for with this that from into when what which where there their them they then than have has had not but are was were will would can could should please fix make add use also just some any all our your its".split(
    " ",
  ),
);

export interface ClassifierAnswer {
  repository: string | null;
  confidence: number;
}

/** Whether a user message is the classifier's prompt. */
export function isRepositoryClassification(userText: string): boolean {
  return userText.startsWith(REPOSITORY_CLASSIFIER_HEADER);
}

/** The answer, as the JSON text the model returns. */
export function classifyRepository(userText: string): string {
  return JSON.stringify(classify(userText));
}

export function classify(userText: string): ClassifierAnswer {
  const lines = userText.replace(/\r\n?/g, "\n").split("\n");
  const candidates = lines.flatMap((line) => {
    const match = /^- ([^\s:]+): ?(.*)$/.exec(line);
    return match ? [{ name: match[1]!, nameWords: wordsOf(match[1]!), descriptionWords: wordsOf(match[2] ?? "") }] : [];
  });
  const requestWords = wordsOf(fencedRequest(lines));
  const scored = candidates
    .map((candidate) => ({
      name: candidate.name,
      score: [...requestWords].reduce(
        (sum, word) => sum + (candidate.nameWords.has(word) ? NAME_WEIGHT : candidate.descriptionWords.has(word) ? 1 : 0),
        0,
      ),
    }))
    .sort((a, b) => b.score - a.score);
  const best = scored[0];
  if (!best || best.score === 0) return { repository: null, confidence: 0 };
  const lead = best.score - (scored[1]?.score ?? 0);
  if (lead === 0) return { repository: best.name, confidence: TIE_CONFIDENCE };
  const confidence = Math.min(MAX_CONFIDENCE, MIN_LEAD_CONFIDENCE + CONFIDENCE_PER_EXTRA_WORD * (lead - 1));
  return { repository: best.name, confidence: Math.round(confidence * 100) / 100 };
}

/** The text inside the first ```` ```untrusted ```` fence; empty when there is none. */
function fencedRequest(lines: string[]): string {
  const start = lines.findIndex((line) => /^`{3,}untrusted$/.test(line));
  if (start === -1) return "";
  const fence = lines[start]!.slice(0, lines[start]!.indexOf("untrusted"));
  const end = lines.findIndex((line, index) => index > start && line === fence);
  return lines.slice(start + 1, end === -1 ? undefined : end).join("\n");
}

function wordsOf(text: string): Set<string> {
  return new Set(
    text
      .toLowerCase()
      .split(/[^\p{L}\p{N}]+/u)
      .filter((word) => word.length >= 3 && !STOPWORDS.has(word)),
  );
}
