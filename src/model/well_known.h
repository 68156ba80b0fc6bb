// Labels and annotations with a meaning to Skiff itself, shared by the controllers that write
// them and the clients that read them.
#pragma once

namespace skiff {

// On every Revision and Instance: the Application it belongs to.
inline constexpr const char* kApplicationLabel = "skiff.dev/application";
// On an Application, copied onto the Revision it produces: why this change was made.
inline constexpr const char* kChangeCauseAnnotation = "skiff.dev/change-cause";
// On an Application, copied onto the Revision it produces: who made the change — the user who
// wrote it through the API (set by the server), or the Skiff controller that made it.
inline constexpr const char* kChangedByAnnotation = "skiff.dev/changed-by";

// On an Application: "true" holds its rollout where it is (`skiff rollout pause`).
inline constexpr const char* kPausedAnnotation = "skiff.dev/paused";
// On an Application: the revision `skiff rollout promote` lets past its release's manual gate
// (a canary or blue-green component with autoPromote: false); "N:full" takes revision N past
// all its remaining steps (`skiff rollout promote --full`).
inline constexpr const char* kPromoteAnnotation = "skiff.dev/promote";
// On an Application: the revision `skiff rollout abort` stops the release of, sending its
// traffic back to the stable set.
inline constexpr const char* kAbortAnnotation = "skiff.dev/abort";
// On the pods (Kubernetes) and Instances (local) of a component being released: which of its
// two sets runs them, "stable" or "canary" (controller/release_plan.h). Local instances carry
// it only in the canary set.
inline constexpr const char* kTrackLabel = "skiff.dev/track";
// On every Instance: the component it runs.
inline constexpr const char* kComponentLabel = "skiff.dev/component";
// On an Instance that mirrors a pod of a Kubernetes cluster: the Cluster. The kubernetes
// backend owns such Instances; the local runtime leaves them alone.
inline constexpr const char* kClusterLabel = "skiff.dev/cluster";

// On every Token: the user it acts for, so a user's tokens are listed by selector.
inline constexpr const char* kUserLabel = "skiff.dev/user";

}  // namespace skiff
