import { useEffect } from "react";

const APP_NAME = "Lookout";

/** Sets the tab's title while the page is shown ("Fix login · Lookout"). */
export function useDocumentTitle(title: string | null | undefined): void {
  useEffect(() => {
    document.title = title ? `${title} · ${APP_NAME}` : APP_NAME;
  }, [title]);
}
