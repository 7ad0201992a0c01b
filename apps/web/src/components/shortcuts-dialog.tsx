import { MOD_KEY_LABEL } from "../hooks/use-hotkey";
import { Dialog } from "./dialog";

const SHORTCUTS: Array<[keys: string[], what: string]> = [
  [[MOD_KEY_LABEL, "K"], "Go to a session or page"],
  [["c"], "New session"],
  [["/"], "Search sessions"],
  [["j", "k"], "Move through the sessions list"],
  [[MOD_KEY_LABEL, "Enter"], "Send the prompt"],
  [["Esc"], "Leave a text field or close a dialog"],
  [["g", "s"], "Go to sessions"],
  [["g", "a"], "Go to automations"],
  [["g", ","], "Go to settings"],
  [["?"], "Show these shortcuts"],
];

export function ShortcutsDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  return (
    <Dialog open={open} onClose={onClose} title="Keyboard shortcuts">
      <dl className="kv">
        {SHORTCUTS.map(([keys, what]) => (
          <div key={what} style={{ display: "contents" }}>
            <dt>
              {keys.map((key) => (
                <kbd key={key} style={{ marginRight: 4 }}>
                  {key}
                </kbd>
              ))}
            </dt>
            <dd>{what}</dd>
          </div>
        ))}
      </dl>
    </Dialog>
  );
}
