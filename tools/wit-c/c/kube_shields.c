// The plugin's two exports over the CHECKS table of kube_shields.h. Written beside the
// bindings by tools/wit-c; build.sh compiles it with the plugin's own file.
#include <stdio.h>

#include "kube_shields.h"

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
        ok = CHECKS[i].run(ctx, ret, err);
    } else {
        char message[128];
        snprintf(message, sizeof message, "no check named `%.*s`", (int)name->len,
                 (const char *)name->ptr);
        check_plugin_string_dup(err, message);
    }
    // The arguments belong to the export.
    check_plugin_string_free(name);
    kube_shields_plugin_types_context_free(ctx);
    return ok;
}
