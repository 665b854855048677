// gjs -m check.js [N]: prints every state watchHealing reports, one line
// each, and exits once N issues (default 1) are active, or after 30 s.
// The test suite runs it against the daemon on a private bus.
import GLib from 'gi://GLib';
import System from 'system';

import {watchHealing} from './healing.js';

const want = Number(System.programArgs[0] ?? 1);
const loop = new GLib.MainLoop(null, false);
const watch = watchHealing(({running, health, activeIssues}) => {
    print(`running=${running} health=${health} active=${activeIssues}`);
    if (activeIssues >= want)
        loop.quit();
});
GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, 30, () => {
    print('timeout');
    loop.quit();
    return GLib.SOURCE_REMOVE;
});
loop.run();
watch.stop();
