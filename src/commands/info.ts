export async function infoCommand(o: { format?: string }): Promise<void> { void o; }
