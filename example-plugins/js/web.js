// Checks for the `web` service: drop this file into the plugin directory as `web.js`.

check('running', 'Running pods out of all: green when all run, red otherwise.', (ctx) => {
  const total = ctx.pods.length;
  if (total === 0) return shield('no pods', { color: 'lightgrey' });
  const up = ctx.pods.filter((pod) => pod.phase === 'Running').length;
  return shield(`${up}/${total} running`, { color: up === total ? 'green' : 'red' });
});

check('release', 'The release named in the settings\' [config] (release = "...").', (ctx) =>
  ctx.config.release ?? 'unknown');

check('version', 'What each pod answers on http://<pod IP>:<port><path>.', (ctx) => {
  const port = ctx.config.port ?? '8080';
  const path = ctx.config.path ?? '/version';
  const answers = [];
  for (const pod of ctx.pods) {
    if (!pod.podIp) continue;
    const host = pod.podIp.includes(':') ? `[${pod.podIp}]` : pod.podIp;
    try {
      const response = http.get(`http://${host}:${port}${path}`);
      if (response.status === 200) answers.push(response.text().trim());
      else console.warn(`pod ${pod.name}: HTTP ${response.status}`);
    } catch (err) {
      console.warn(`pod ${pod.name}: ${err.message}`);
    }
  }
  if (answers.length === 0) return shield('no answer', { color: 'red' });
  const distinct = [...new Set(answers)].sort();
  if (distinct.length === 1 && answers.length === ctx.pods.length) {
    return shield(distinct[0], { color: 'green' });
  }
  return shield(distinct.join(', '), { color: 'yellow' });
});
