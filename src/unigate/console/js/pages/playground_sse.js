// Server-sent events from a fetch() answer: `response.body` read as it arrives, decoded as UTF-8
// and cut into events ({event, data}) at each blank line, as the SSE format defines them.

// Yields {event, data} for every event of the stream; `event` is '' when the stream names none.
// Multi-line data is joined with '\n'; comments (':...') and ids are ignored.
export async function* readEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data = [];
  const take = () => {
    const out = data.length ? { event, data: data.join('\n') } : null;
    event = '';
    data = [];
    return out;
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = done ? '' : lines.pop(); // the last piece may be half a line
      for (const line of lines) {
        if (line === '') {
          const ready = take();
          if (ready) yield ready;
        } else if (line.startsWith('data:')) {
          data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
        } else if (line.startsWith('event:')) {
          event = line.slice(6).trim();
        }
      }
      if (done) break;
    }
    const last = take(); // a stream that ends without the final blank line
    if (last) yield last;
  } finally {
    reader.releaseLock();
  }
}
