// A top-bar indicator of luminous-healingd's health for GNOME Shell 45+:
// a dot coloured by Health and the number of active issues, kept current
// from the daemon's PropertiesChanged signal (healing.js). Clicking it
// opens the dashboard. docs/desktop.md says how to install it.
import Clutter from 'gi://Clutter';
import Gio from 'gi://Gio';
import GObject from 'gi://GObject';
import St from 'gi://St';

import {Extension} from 'resource:///org/gnome/shell/extensions/extension.js';
import * as Main from 'resource:///org/gnome/shell/ui/main.js';
import * as PanelMenu from 'resource:///org/gnome/shell/ui/panelMenu.js';

import {watchHealing} from './healing.js';

const DASHBOARD = 'http://127.0.0.1:9955/';
const COLOURS = {ok: '#33d17a', warning: '#f6d32d', critical: '#e01b24'};

const Indicator = GObject.registerClass(
class Indicator extends PanelMenu.Button {
    _init() {
        super._init(0.5, 'luminous-healing', true);
        this._label = new St.Label({text: '●', y_align: Clutter.ActorAlign.CENTER});
        this.add_child(this._label);
        this.connect('button-press-event', () => {
            Gio.AppInfo.launch_default_for_uri(DASHBOARD, null);
            return Clutter.EVENT_STOP;
        });
    }

    show({running, health, activeIssues}) {
        if (!running) {
            this._label.text = '○';
            this._label.style = 'color: #9a9996;';
            return;
        }
        this._label.text = activeIssues > 0 ? `● ${activeIssues}` : '●';
        this._label.style = `color: ${COLOURS[health] ?? '#9a9996'};`;
    }
});

export default class HealingExtension extends Extension {
    enable() {
        this._indicator = new Indicator();
        Main.panel.addToStatusArea(this.uuid, this._indicator);
        this._watch = watchHealing(state => this._indicator?.show(state));
    }

    disable() {
        this._watch?.stop();
        this._watch = null;
        this._indicator?.destroy();
        this._indicator = null;
    }
}
