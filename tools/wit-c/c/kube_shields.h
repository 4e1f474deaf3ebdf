// kube_shields.h: what a kube-shields check in C needs besides the generated bindings
// (check_plugin.h): short type names, string and [config] helpers, outcomes, logging, and the
// table of checks that kube_shields.c turns into the plugin's two exports. Written beside the
// bindings by tools/wit-c; build.sh compiles kube_shields.c with them.
//
// Ownership, as wit-bindgen's C bindings define it:
//   - what a check returns is freed by the bindings after the host has copied it, with free():
//     every returned string must be malloc'ed (check_plugin_string_dup; the helpers here do),
//     never a literal set with check_plugin_string_set;
//   - what an import returns (http.get's response or error, http.get-all's results) is the
//     caller's to free, and so is what the caller passes in (a request list);
//   - the context a check gets is freed after it by kube_shields.c.
// Strings are (pointer, length), not NUL-terminated: print them with "%.*s", or cstr() them.
#ifndef KUBE_SHIELDS_H
#define KUBE_SHIELDS_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check_plugin.h"

typedef check_plugin_string_t string_t;
typedef kube_shields_plugin_types_context_t context_t;
typedef kube_shields_plugin_types_outcome_t outcome_t;

static inline bool string_is(const string_t *s, const char *text) {
    size_t len = strlen(text);
    return s->len == len && memcmp(s->ptr, text, len) == 0;
}

// The value of `key` in the settings' [config], or NULL.
static inline const string_t *config_get(const context_t *ctx, const char *key) {
    for (size_t i = 0; i < ctx->config.len; i++) {
        if (string_is(&ctx->config.ptr[i].f0, key)) {
            return &ctx->config.ptr[i].f1;
        }
    }
    return NULL;
}

// A heap copy of (ptr, len) with a NUL at the end, for "%s"; free() it.
static inline char *cstr(const string_t *s) {
    char *out = malloc(s->len + 1);
    memcpy(out, s->ptr, s->len);
    out[s->len] = '\0';
    return out;
}

// One line to the kube-shields log at `level` (stdout and stderr go there too).
static inline void log_text(kube_shields_plugin_logging_level_t level, const char *text) {
    string_t message;
    check_plugin_string_set(&message, text);  // borrowed: the import copies it
    kube_shields_plugin_logging_log(level, &message);
}

static inline void option_set(check_plugin_option_string_t *opt, const char *text) {
    opt->is_some = text != NULL;
    if (text != NULL) {
        check_plugin_string_dup(&opt->val, text);
    }
}

// A badge of the check's own: the label is the check's name; `color` a shields color or NULL.
static inline void shield(outcome_t *ret, const char *status, const char *color) {
    ret->tag = KUBE_SHIELDS_PLUGIN_TYPES_OUTCOME_SHIELD;
    option_set(&ret->val.shield.label, NULL);
    check_plugin_string_dup(&ret->val.shield.status, status);
    option_set(&ret->val.shield.color, color);
}

// A raw value (orange badge, `?raw` answers it as is).
static inline void raw(outcome_t *ret, const char *text, size_t len) {
    ret->tag = KUBE_SHIELDS_PLUGIN_TYPES_OUTCOME_RAW;
    check_plugin_string_dup_n(&ret->val.raw, text, len);
}

// A check: true with *ret set, or false with *err set (malloc'ed: check_plugin_string_dup);
// the error text goes to the log and /plugins, the badge says `error`.
typedef bool (*check_fn)(const context_t *ctx, outcome_t *ret, string_t *err);

typedef struct {
    const char *name;         // the badge URL's last part
    const char *description;  // shown in /plugins, or NULL
    check_fn run;
} check_t;

// The plugin's checks, in the order /plugins lists them: define both in the plugin's file,
//   const check_t CHECKS[] = {{"running", "...", check_running}};
//   const size_t CHECK_COUNT = sizeof CHECKS / sizeof CHECKS[0];
extern const check_t CHECKS[];
extern const size_t CHECK_COUNT;

#endif
