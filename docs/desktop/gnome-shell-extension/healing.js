// The D-Bus half of the extension: no GNOME Shell in it, so that gjs runs it
// on its own (check.js) and the test suite checks it against the daemon.
import Gio from 'gi://Gio';

const BUS_NAME = 'org.luminous.Healing';
const OBJECT_PATH = '/org/luminous/Healing';
// Only what this reads; the whole interface is in
// /usr/share/dbus-1/interfaces/org.luminous.Healing1.xml.
const IFACE = `<node>
  <interface name="org.luminous.Healing1">
    <property name="Health" type="s" access="read"/>
    <property name="ActiveIssues" type="u" access="read"/>
  </interface>
</node>`;
const HealingProxy = Gio.DBusProxy.makeProxyWrapper(IFACE);

// watchHealing calls onChange({running, health, activeIssues}) now and
// whenever the daemon's Health or ActiveIssues change (PropertiesChanged,
// which GDBusProxy folds into its cache and g-properties-changed), or the
// daemon leaves or joins the system bus. It never starts the daemon.
export function watchHealing(onChange) {
    let proxy = null;
    const ids = [];
    const report = () => {
        const running = proxy !== null && proxy.g_name_owner !== null;
        onChange({
            running,
            health: running ? proxy.Health : null,
            activeIssues: running ? proxy.ActiveIssues : null,
        });
    };
    new HealingProxy(Gio.DBus.system, BUS_NAME, OBJECT_PATH, (p, error) => {
        if (error) {
            logError(error, 'luminous-healing: cannot watch the daemon');
            return;
        }
        proxy = p;
        ids.push(proxy.connect('g-properties-changed', (_p, changed) => {
            const c = changed.deepUnpack();
            if ('Health' in c || 'ActiveIssues' in c)
                report();
        }));
        ids.push(proxy.connect('notify::g-name-owner', report));
        report();
    }, null, Gio.DBusProxyFlags.DO_NOT_AUTO_START);
    return {
        stop() {
            for (const id of ids)
                proxy?.disconnect(id);
            ids.length = 0;
            proxy = null;
        },
    };
}
