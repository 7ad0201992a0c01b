import { useEffect, useRef, useState, type ReactNode } from "react";
import { NavLink, useLocation, useNavigate } from "react-router";
import { isTypingTarget, MOD_KEY_LABEL, useHotkey } from "../hooks/use-hotkey";
import { useAuth, useMe } from "../state/auth";
import { Avatar } from "./avatar";
import { CommandPalette } from "./command-palette";
import { ShortcutsDialog } from "./shortcuts-dialog";

/** How long after `g` the second key of a "go to" shortcut counts. */
const GO_TO_WINDOW_MS = 1200;

/** The frame around every signed-in page: navigation, the account, global shortcuts. */
export function AppShell({ children }: { children: ReactNode }) {
  const me = useMe();
  const { signOut } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const [shortcutsOpen, setShortcutsOpen] = useState(false);
  const [paletteOpen, setPaletteOpen] = useState(false);

  useEffect(() => setMenuOpen(false), [location.pathname]);

  useHotkey("c", () => void navigate("/new"));
  useHotkey("?", () => setShortcutsOpen(true));
  useGoToShortcuts({ s: "/", a: "/automations", ",": "/settings" });
  useEffect(() => {
    // Cmd/Ctrl+K works everywhere, including inside text fields.
    const onKeyDown = (event: KeyboardEvent) => {
      if (event.key.toLowerCase() === "k" && (event.metaKey || event.ctrlKey)) {
        event.preventDefault();
        setPaletteOpen((open) => !open);
      }
    };
    window.addEventListener("keydown", onKeyDown);
    return () => window.removeEventListener("keydown", onKeyDown);
  }, []);

  return (
    <div className="shell">
      <header className="shell__bar">
        <button
          type="button"
          className="btn btn--ghost btn--icon shell__menu-button"
          aria-label="Menu"
          aria-expanded={menuOpen}
          onClick={() => setMenuOpen((open) => !open)}
        >
          ☰
        </button>
        <Brand />
        <NavLink to="/new" className="btn btn--primary btn--sm">
          New
        </NavLink>
      </header>
      <nav className={`shell__nav${menuOpen ? " shell__nav--open" : ""}`} aria-label="Main">
        <div className="shell__brand">
          <Brand />
        </div>
        <NavLink to="/new" className="btn btn--primary shell__new">
          <span>New session</span>
          <kbd>C</kbd>
        </NavLink>
        <ul className="shell__links">
          <li>
            <NavLink to="/" end className="shell__link">
              <span aria-hidden>☰</span> Sessions
            </NavLink>
          </li>
          <li>
            <NavLink to="/automations" className="shell__link">
              <span aria-hidden>◷</span> Automations
            </NavLink>
          </li>
          <li>
            <NavLink to="/settings" className="shell__link">
              <span aria-hidden>⚙</span> Settings
            </NavLink>
          </li>
        </ul>
        <div className="shell__account">
          <Avatar author={me.user} size="sm" />
          <div className="grow">
            <div className="truncate">{me.user.name}</div>
            <div className="faint truncate" style={{ fontSize: "var(--text-xs)" }}>
              {me.role === "admin" ? "Admin" : "Member"}
            </div>
          </div>
          <button type="button" className="btn btn--ghost btn--sm" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
        <button type="button" className="btn btn--ghost btn--sm shell__help" onClick={() => setPaletteOpen(true)}>
          <kbd>{MOD_KEY_LABEL}</kbd>
          <kbd>K</kbd> Go to…
        </button>
        <button type="button" className="btn btn--ghost btn--sm shell__help" onClick={() => setShortcutsOpen(true)}>
          <kbd>?</kbd> Keyboard shortcuts
        </button>
      </nav>
      <main className="shell__main" id="main">
        {children}
      </main>
      <ShortcutsDialog open={shortcutsOpen} onClose={() => setShortcutsOpen(false)} />
      <CommandPalette open={paletteOpen} onClose={() => setPaletteOpen(false)} onShowShortcuts={() => setShortcutsOpen(true)} />
    </div>
  );
}

function Brand() {
  return (
    <NavLink to="/" className="brand" aria-label="Lookout home">
      <span className="brand__mark" aria-hidden>
        ◉
      </span>
      Lookout
    </NavLink>
  );
}

/** `g` then a key navigates, like GitHub's and Linear's "go to" shortcuts. */
function useGoToShortcuts(targets: Record<string, string>): void {
  const navigate = useNavigate();
  const armedUntil = useRef(0);
  const targetsRef = useRef(targets);
  targetsRef.current = targets;
  useEffect(() => {
    const onKeyDown = (event: KeyboardEvent) => {
      if (event.metaKey || event.ctrlKey || event.altKey || isTypingTarget(event.target)) return;
      if (event.key === "g") {
        armedUntil.current = Date.now() + GO_TO_WINDOW_MS;
        return;
      }
      if (Date.now() > armedUntil.current) return;
      armedUntil.current = 0;
      const target = targetsRef.current[event.key];
      if (target) {
        event.preventDefault();
        void navigate(target);
      }
    };
    window.addEventListener("keydown", onKeyDown);
    return () => window.removeEventListener("keydown", onKeyDown);
  }, [navigate]);
}
