// Checks for the `{service}` service. Try them: kube-shields check {service}.js --pods pods.json

check('running', 'Running pods out of all: green when all run, red otherwise.', (ctx) => {
  const total = ctx.pods.length;
  if (total === 0) return shield('no pods', { color: 'lightgrey' });
  const up = ctx.pods.filter((pod) => pod.phase === 'Running').length;
  console.log(`${up} of ${total} pods run`);
  return shield(`${up}/${total} running`, { color: up === total ? 'green' : 'red' });
});

check('release', 'The release named in {service}.toml\'s [config].', (ctx) => ctx.config.release ?? 'unknown');
