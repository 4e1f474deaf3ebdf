// Checks for the `{service}` service, in C. Build and try them:
//   ./build.sh && kube-shields check {service}.wasm --pods pods.json
//
// kube_shields.h (written with the bindings by build.sh, into target/bindings) has the
// helpers used here (string_is, config_get, cstr, shield, raw, log_text) and what may be
// freed by whom; kube_shields.c turns the CHECKS table at the end into the plugin's exports.
// HTTP in one call: kube_shields_plugin_http_get or, many at once, ..._get_all
// (see check_plugin.h after a build).

#include <stdio.h>

#include "kube_shields.h"

static bool check_running(const context_t *ctx, outcome_t *ret, string_t *err) {
    (void)err;  // this check never fails
    size_t total = ctx->pods.len, up = 0;
    for (size_t i = 0; i < total; i++) {
        up += string_is(&ctx->pods.ptr[i].phase, "Running");
    }
    // stdout goes to the kube-shields log.
    printf("%zu of %zu pods run\n", up, total);
    if (total == 0) {
        shield(ret, "no pods", "lightgrey");
        return true;
    }
    char status[64];
    snprintf(status, sizeof status, "%zu/%zu running", up, total);
    shield(ret, status, up == total ? "green" : "red");
    return true;
}

static bool check_release(const context_t *ctx, outcome_t *ret, string_t *err) {
    (void)err;
    const string_t *release = config_get(ctx, "release");
    if (release == NULL) {
        raw(ret, "unknown", strlen("unknown"));
    } else {
        raw(ret, (const char *)release->ptr, release->len);
    }
    return true;
}

// One entry per check: its name (the badge URL's last part), a description, the function.
const check_t CHECKS[] = {
    {"running", "Running pods out of all: green when all run, red otherwise.", check_running},
    {"release", "The release named in {service}.toml's [config].", check_release},
};
const size_t CHECK_COUNT = sizeof CHECKS / sizeof CHECKS[0];
