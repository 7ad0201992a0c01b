import { Script, type ScriptInput } from "./script";
import { classifyRepository, isRepositoryClassification } from "./classify-repository";

/**
 * Scripts that ship with the server. Tool names and argument shapes are those of OpenCode's
 * built-in tools, checked against the tool schemas `opencode serve` 1.18 sends with each request
 * (recorded in test/fixtures): `read {filePath}`, `write {filePath, content}`,
 * `edit {filePath, oldString, newString}`, `bash {command}` (1.18's bash takes no `description`).
 * Relative paths resolve against the session's directory.
 */

const DEMO_NOTE = `# Lookout offline demo

This file was written by Lookout's **offline demo model**: a scripted stand-in that replays a fixed
sequence of tool calls so you can watch a whole session run without any model API key.

Configure \`ANTHROPIC_API_KEY\`, \`OPENAI_API_KEY\` or an OpenAI-compatible endpoint to use a real model.
`;

const demo: ScriptInput = {
  name: "demo",
  description: "The labelled offline demo: reads a file, writes and edits one, runs git status, then summarises.",
  match: "^\\s*(?:/demo|demo|run the (?:offline )?demo)\\b",
  steps: [
    {
      reasoning: "The user wants to see the offline demo. I will look at the README first.",
      text: "**Offline demo model** (scripted, no real model is involved). Let me look around the repository first.",
      toolCalls: [{ name: "read", arguments: { filePath: "README.md" } }],
      delayMs: 30,
    },
    {
      text: "Now I'll add a short note explaining this demo.",
      toolCalls: [{ name: "write", arguments: { filePath: "LOOKOUT_DEMO.md", content: DEMO_NOTE } }],
      delayMs: 30,
    },
    {
      text: "Let me refine the wording of that note.",
      toolCalls: [
        {
          name: "edit",
          arguments: {
            filePath: "LOOKOUT_DEMO.md",
            oldString: "so you can watch a whole session run",
            newString: "so you can watch a whole session run end to end (streaming, tool calls, commits)",
          },
        },
      ],
      delayMs: 30,
    },
    {
      text: "Let me check what changed in the working tree.",
      toolCalls: [{ name: "bash", arguments: { command: "git status --short && ls" } }],
      delayMs: 30,
    },
  ],
  finalText:
    "Summary (offline demo): I read `README.md`, wrote `LOOKOUT_DEMO.md`, refined it with an edit, and checked `git status`. " +
    "Lookout will commit this change for you. Configure a real model to do real work.",
};

const writeFile: ScriptInput = {
  name: "write-file",
  description: "Writes the file named in the prompt: `write file <path> containing <content>`.",
  match: "^\\s*write (?:the )?file (?<path>\\S+) (?:containing|with)[:]?\\s(?<content>[\\s\\S]*)$",
  steps: [{ text: "Writing `{{path}}`.", toolCalls: [{ name: "write", arguments: { filePath: "{{path}}", content: "{{content}}\n" } }] }],
  finalText: "Wrote `{{path}}`.",
};

const editFile: ScriptInput = {
  name: "edit-file",
  description: 'Replaces text in a file: `replace "<old>" with "<new>" in <path>` (reads it first, as OpenCode requires).',
  match: '^\\s*replace "(?<old>[^"]+)" with "(?<new>[^"]*)" in (?<path>\\S+)\\s*$',
  steps: [
    { text: "Reading `{{path}}`.", toolCalls: [{ name: "read", arguments: { filePath: "{{path}}" } }] },
    {
      text: "Editing `{{path}}`.",
      toolCalls: [{ name: "edit", arguments: { filePath: "{{path}}", oldString: "{{old}}", newString: "{{new}}" } }],
    },
  ],
  finalText: "Replaced the text in `{{path}}`.",
};

const runCommand: ScriptInput = {
  name: "run-command",
  description: "Runs a shell command through the bash tool: `run command <command>`.",
  match: "^\\s*run (?:the )?command[:]?\\s(?<command>[\\s\\S]+)$",
  steps: [{ text: "Running `{{command}}`.", toolCalls: [{ name: "bash", arguments: { command: "{{command}}" } }] }],
  finalText: "Ran the command.",
};

/** Like `run command`, for work that may outlast the bash tool's default two minutes on a busy machine. */
const runLongCommand: ScriptInput = {
  name: "run-long-command",
  description: "Runs a shell command through the bash tool with a ten-minute limit: `run long command <command>`.",
  match: "^\\s*run (?:the )?long command[:]?\\s(?<command>[\\s\\S]+)$",
  steps: [{ text: "Running `{{command}}`.", toolCalls: [{ name: "bash", arguments: { command: "{{command}}", timeout: 600_000 } }] }],
  finalText: "Ran the command.",
};

/** OpenCode's name for the bridge's MCP tool: the server name (`lookout`), `_`, the tool name. */
const PULL_REQUEST_TOOL = "lookout_create_pull_request";

const openPullRequest: ScriptInput = {
  name: "open-pull-request",
  description: `Calls the bridge's \`${PULL_REQUEST_TOOL}\` tool: \`open a pull request [titled <title>]\`.`,
  match: "^\\s*(?:open|create) a pull request(?: titled[:]? (?<title>.+?))?\\s*$",
  steps: [
    {
      text: "Opening a pull request for this session's branch.",
      toolCalls: [{ name: PULL_REQUEST_TOOL, arguments: { title: "{{title}}" } }],
    },
  ],
  finalText: "Asked Lookout to open the pull request.",
};

const SLOW_WORDS = 400;

const slowStream: ScriptInput = {
  name: "slow",
  description: "Streams a long answer slowly (about 40 s), for stop and reconnect tests.",
  match: "^\\s*slow(?: stream)?\\b",
  steps: [
    {
      text: Array.from({ length: SLOW_WORDS }, (_, i) => `word${i + 1}`).join(" "),
      chunkChars: 1,
      delayMs: 100,
    },
  ],
  finalText: "Finished the slow stream.",
};

const echo: ScriptInput = {
  name: "echo",
  description: "Answers with the text after `echo`.",
  match: "^\\s*echo[:]?\\s(?<text>[\\s\\S]+)$",
  steps: [{ text: "{{text}}" }],
};

const modelError: ScriptInput = {
  name: "model-error",
  description: "Fails the model call with an HTTP 400, for error-path tests.",
  match: "^\\s*fail(?: with)?(?: model)? error\\b",
  steps: [{ error: { status: 400, message: "The scripted model was asked to fail this request." } }],
};

export const builtinScripts: readonly Script[] = [
  demo,
  writeFile,
  editFile,
  runCommand,
  runLongCommand,
  openPullRequest,
  slowStream,
  echo,
  modelError,
].map((script) => Script.parse(script));

export const fallbackScript: Script = Script.parse({
  name: "fallback",
  match: "[\\s\\S]*",
  steps: [
    {
      text:
        "I'm Lookout's offline scripted model, so I can only play prepared scripts. " +
        "Say `demo` to watch the offline demo, or configure a real model provider.",
    },
  ],
});

/**
 * A built-in whose answer is computed from the prompt rather than replayed from steps: a script
 * cannot count words. Responders are tried before the scripts.
 */
export interface Responder {
  readonly name: string;
  readonly description: string;
  /** Whether this responder answers the latest user message. */
  matches(latestUserText: string): boolean;
  /** The answer's text. */
  answer(latestUserText: string): string;
}

const repositoryClassifier: Responder = {
  name: "classify-repository",
  description:
    "Answers Lookout's repository classifier: the listed repository whose name and description share the most words with the request, as JSON.",
  matches: isRepositoryClassification,
  answer: classifyRepository,
};

export const builtinResponders: readonly Responder[] = [repositoryClassifier];
