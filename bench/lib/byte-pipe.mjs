// The floor for any stdio proxy: a Node process that pipes bytes both ways and does nothing else.
import {spawn} from 'node:child_process';

const [command, ...args] = process.argv.slice(2);
const child = spawn(command, args, {stdio: ['pipe', 'pipe', 'inherit']});
process.stdin.pipe(child.stdin);
child.stdout.pipe(process.stdout);
child.on('exit', (code) => process.exit(code ?? 1));
