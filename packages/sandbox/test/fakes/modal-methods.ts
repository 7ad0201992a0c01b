/** The Modal RPCs the provider's calls reach, by gRPC service; the fake serves exactly these. */
export const MODAL_METHODS = {
  "modal.client.ModalClient": [
    "AuthTokenGet",
    "AppGetOrCreate",
    "EnvironmentGetOrCreate",
    "ImageGetOrCreate",
    "ImageJoinStreaming",
    "ImageFromId",
    "ImageDelete",
    "SecretGetOrCreate",
    "SandboxCreate",
    "SandboxGetTaskId",
    "SandboxWait",
    "SandboxTerminate",
    "TaskGetCommandRouterAccess",
    // The SDK's default (V2) sandbox backend.
    "SandboxCreateV2",
    "SandboxGetTaskIdV2",
    "SandboxWaitV2",
    "SandboxTerminateV2",
    "SandboxGetCommandRouterAccess",
  ],
  "modal.task_command_router.TaskCommandRouter": ["TaskSnapshotFilesystem"],
} as const;
