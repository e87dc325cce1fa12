/*
 * Preloaded with the sanitizer runtimes (make test SANITIZE=1 only): makes
 * dlclose() a no-op.  nginx unloads its dynamic modules when a cycle's pool
 * is destroyed, i.e. just before a worker exits, and LeakSanitizer runs
 * after that: a leak of the module would then show "<unknown module>"
 * frames, which neither a reader nor a suppression can attribute.  Kept
 * loaded, the module's frames are symbolized and its globals stay roots.
 */

int
dlclose(void *handle)
{
    (void) handle;
    return 0;
}
