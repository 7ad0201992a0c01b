export { SLACK_RELAY_SERVICE, SOCKET_INGEST_PATH, SlackRelay, type ForwardResult, type SlackRelayOptions } from "./relay";
