// A job's object handed from the page that submitted it to the page that shows it, so a
// result whose bytes came with the answer (the manual's base64 fields) is not fetched again.
const handed = new Map();

export function handOver(kind, object) {
  handed.set(`${kind}:${object.id}`, object);
}

export function takeOver(kind, id) {
  const key = `${kind}:${id}`;
  const object = handed.get(key) || null;
  handed.delete(key);
  return object;
}
