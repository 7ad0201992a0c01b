import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { HttpClient } from "./api/http";
import { LookoutApi } from "./api/lookout-api";
import { socketConnectionFactory } from "./api/session-connection";
import { App } from "./app";
import "./styles/tokens.css";
import "./styles/base.css";
import "./styles/components.css";
import "./styles/shell.css";
import "./styles/pages.css";
import "./styles/session.css";
import "./styles/automations.css";

const api = new LookoutApi(new HttpClient());
const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root element");

createRoot(root).render(
  <StrictMode>
    <App services={{ api, connect: socketConnectionFactory(api) }} />
  </StrictMode>,
);
