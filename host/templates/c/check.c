// Checks for the `{service}` service, in C. Build and try them:
//   ./build.sh && kube-shields check {service}.wasm --pods pods.json
//
// Ownership, as wit-bindgen's C bindings define it:
//   - the arguments of an export (`name`, `ctx`) belong to the export: free them;
//   - what an export returns is freed by the bindings after the host has copied it, with
//     free(): every returned string must be malloc'ed (check_plugin_string_dup), never a
//     literal set with check_plugin_string_set;
//   - what an import returns (http.get's response or error) is the caller's to free.
// Strings are (pointer, length), not NUL-terminated: print them with "%.*s".
// HTTP in one call: kube_shields_plugin_http_get (see check_plugin.h after a build).

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_plugin.h"

typedef check_plugin_string_t string_t;
typedef kube_shields_plugin_types_context_t context_t;
typedef kube_shields_plugin_types_outcome_t outcome_t;

static bool string_is(const string_t *s, const char *text) {
    size_t len = strlen(text);
    return s->len == len && memcmp(s->ptr, text, len) == 0;
}

// The value of `key` in the settings' [config], or NULL.
static const string_t *config_get(const context_t *ctx, const char *key) {
    for (size_t i = 0; i < ctx->config.len; i++) {
        if (string_is(&ctx->config.ptr[i].f0, key)) {
            return &ctx->config.ptr[i].f1;
        }
    }
    return NULL;
}

static void option_set(check_plugin_option_string_t *opt, const char *text) {
    opt->is_some = text != NULL;
    if (text != NULL) {
        check_plugin_string_dup(&opt->val, text);
    }
}

static void shield(outcome_t *ret, const char *status, const char *color) {
    ret->tag = KUBE_SHIELDS_PLUGIN_TYPES_OUTCOME_SHIELD;
    option_set(&ret->val.shield.label, NULL);
    check_plugin_string_dup(&ret->val.shield.status, status);
    option_set(&ret->val.shield.color, color);
}

static bool check_running(const context_t *ctx, outcome_t *ret) {
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

static bool check_release(const context_t *ctx, outcome_t *ret) {
    const string_t *release = config_get(ctx, "release");
    ret->tag = KUBE_SHIELDS_PLUGIN_TYPES_OUTCOME_RAW;
    if (release == NULL) {
        check_plugin_string_dup(&ret->val.raw, "unknown");
    } else {
        check_plugin_string_dup_n(&ret->val.raw, (const char *)release->ptr, release->len);
    }
    return true;
}

typedef bool (*check_fn)(const context_t *ctx, outcome_t *ret);

// One entry per check: its name (the badge URL's last part), a description, the function.
static const struct {
    const char *name;
    const char *description;
    check_fn run;
} CHECKS[] = {
    {"running", "Running pods out of all: green when all run, red otherwise.", check_running},
    {"release", "The release named in {service}.toml's [config].", check_release},
};
#define CHECK_COUNT (sizeof CHECKS / sizeof CHECKS[0])

void exports_kube_shields_plugin_checks_list_checks(
    exports_kube_shields_plugin_checks_list_check_info_t *ret) {
    ret->len = CHECK_COUNT;
    ret->ptr = calloc(CHECK_COUNT, sizeof *ret->ptr);
    for (size_t i = 0; i < CHECK_COUNT; i++) {
        check_plugin_string_dup(&ret->ptr[i].name, CHECKS[i].name);
        option_set(&ret->ptr[i].description, CHECKS[i].description);
    }
}

bool exports_kube_shields_plugin_checks_run_check(string_t *name, context_t *ctx,
                                                  outcome_t *ret, string_t *err) {
    bool ok = false;
    size_t i = 0;
    while (i < CHECK_COUNT && !string_is(name, CHECKS[i].name)) i++;
    if (i < CHECK_COUNT) {
        ok = CHECKS[i].run(ctx, ret);
    } else {
        char message[128];
        snprintf(message, sizeof message, "no check named `%.*s`", (int)name->len,
                 (const char *)name->ptr);
        check_plugin_string_dup(err, message);
    }
    check_plugin_string_free(name);
    kube_shields_plugin_types_context_free(ctx);
    return ok;
}
