export { SLACK_RELAY_SERVICE, SOCKET_INGEST_PATH, SlackRelay, type ForwardResult, type SlackRelayOptions } from "./relay";
export { RELAY_SETTINGS_PATH, fetchRelaySettings } from "./settings";
