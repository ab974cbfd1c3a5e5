/**
 * Arithmetic-coded JPEGs for the image tests. The fixture generator (scripts/make-image-fixtures.ts, via sharp) cannot
 * write arithmetic coding, so these were made from two of its fixtures with Debian's libjpeg-turbo-progs 1:2.1.5-2:
 *
 *   jpegtran -arithmetic -copy all test/fixtures/images/jpeg-baseline.jpg
 *   jpegtran -arithmetic -progressive -copy all test/fixtures/images/jpeg-exif6.jpg
 *
 * jpegtran transcodes losslessly (the same DCT coefficients, only the entropy coding changes), so each decodes to
 * exactly the pixels of its source fixture: the source's `expected` file in test/fixtures/images/manifest.json.
 * Inline because that folder is regenerated from scratch by the generator.
 */
export interface ArithmeticJpeg {
  variant: string;
  /** The fixture it was transcoded from; its expected bytes are this file's. */
  source: string;
  bytes: Uint8Array;
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

export const ARITHMETIC_JPEGS: readonly ArithmeticJpeg[] = [
  {
    variant: 'arithmetic sequential (SOF9), 4:2:0',
    source: 'jpeg-baseline.jpg',
    bytes: fromBase64(
      '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAUDBAQEAwUEBAQFBQUGBwwIBwcHBw8LCwkMEQ8SEhEPERETFhwXExQaFRERGCEYGh0dHx8f' +
        'ExciJCIeJBweHx7/2wBDAQUFBQcGBw4ICA4eFBEUHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4e' +
        'Hh7/yQARCAAeAC0DASIAAhEBAxEB/8wACgAQEAUBEBEF/9oADAMBAAIRAxEAPwD/ANlUWHYaXru7zzxmdPpmsFfuAbOE9md3uDh8BJiN' +
        'Zt0Y5FDV96/fNIlX0XLMsss5P07oHqNUk5lTZjD5+4btLsWolE7Nag0vQiQJMS4yi582oLv7bD7IxYnwwNVjTp56L/TFhh7oOdeKnQ/V' +
        '4wgqGD+JXdevA8ucv5Zlw2TaVQ11XEc5N7cn7TxSdNBgeqwInJWHvyJ5uuOA6cgc34Po01cxDM2hfyaedabcwtsNOjBOWfB+KJd/WGD2' +
        '10M/XRj4b24sRBe2psdAeHRDIbNZfylEKFySYQabuTulUubfODJoybvDnzGZfEr4dp3Pqg6SAGEU2PVMcSn5su/YJD7x4T5+yhhFVJRd' +
        'Dn356iq32R5hmJg9wVeEVMFChW+aojU/UDHHEKgmNItSf1CIIcVjXfDVxD9JQrjUzTMHbygu5KX1FaxpNmNOGI0WWTFjs9CJJ9XHwNyp' +
        'RZJX/oTH/wB3e3bANDBmQtyw97yQYRFSHVX6yJiKnyaNk06f68fEJ6DqZnmy51Rt1j0M6++//NYASSmVy2EjqFYIoc/jgkogaLbjgAn9' +
        'ZzG6p4TquIsme5fiR21gRa55Ckt82iWVc1m0oBlQhIxYgPwuyisCOM8Wq31BIT4pTAO2EeARyDYXpOvL27RXzgFZgJCAueR3TtQcCVTJ' +
        'cejBLyvIog8VoyLEvtM0lLoUjjBfY0Vyxp5eoldtV7nEE1L/2Q==',
    ),
  },
  {
    variant: 'arithmetic progressive (SOF10), 4:2:0, EXIF orientation 6',
    source: 'jpeg-exif6.jpg',
    bytes: fromBase64(
      '/9j/4QC8RXhpZgAASUkqAAgAAAAGABIBAwABAAAABgAAABoBBQABAAAAVgAAABsBBQABAAAAXgAAACgBAwABAAAAAgAAABMCAwABAAAA' +
        'AQAAAGmHBAABAAAAZgAAAAAAAAA4YwAA6AMAADhjAADoAwAABgAAkAcABAAAADAyMTABkQcABAAAAAECAwAAoAcABAAAADAxMDABoAMA' +
        'AQAAAP//AAACoAQAAQAAAC0AAAADoAQAAQAAAB4AAAAAAAAA/+IB8ElDQ19QUk9GSUxFAAEBAAAB4GxjbXMEIAAAbW50clJHQiBYWVog' +
        'B+IAAwAUAAkADgAdYWNzcE1TRlQAAAAAc2F3c2N0cmwAAAAAAAAAAAAAAAAAAPbWAAEAAAAA0y1oYW5keem/Vlo+AbaDI4VVRvdPqgAA' +
        'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAKZGVzYwAAAPwAAAAkY3BydAAAASAAAAAid3RwdAAAAUQAAAAUY2hhZAAAAVgAAAAs' +
        'clhZWgAAAYQAAAAUZ1hZWgAAAZgAAAAUYlhZWgAAAawAAAAUclRSQwAAAcAAAAAgZ1RSQwAAAcAAAAAgYlRSQwAAAcAAAAAgbWx1YwAA' +
        'AAAAAAABAAAADGVuVVMAAAAIAAAAHABzAFIARwBCbWx1YwAAAAAAAAABAAAADGVuVVMAAAAGAAAAHABDAEMAMAAAWFlaIAAAAAAAAPbW' +
        'AAEAAAAA0y1zZjMyAAAAAAABDD8AAAXd///zJgAAB5AAAP2S///7of///aIAAAPcAADAcVhZWiAAAAAAAABvoAAAOPIAAAOPWFlaIAAA' +
        'AAAAAGKWAAC3iQAAGNpYWVogAAAAAAAAJKAAAA+FAAC2xHBhcmEAAAAAAAMAAAACZmkAAPKnAAANWQAAE9AAAApb/9sAQwAFAwQEBAMF' +
        'BAQEBQUFBgcMCAcHBwcPCwsJDBEPEhIRDxERExYcFxMUGhURERghGBodHR8fHxMXIiQiHiQcHh8e/9sAQwEFBQUHBgcOCAgOHhQRFB4e' +
        'Hh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4e/8oAEQgAHgAtAwEiAAIRAQMRAf/MAAYAEAEQ/9oA' +
        'DAMBAAIQAxAAAAH/ALKW71OzQ0EtD4aSa5ABFyQIdXlGn5LGwXE/1JNar6E9hUrk9Gew/8wABBAF/9oACAEBAAEFAhrqz7g5pIgT0l8u' +
        'QVTatVKXGhk6bD1tMYh+7iKn/Dol0jhXh56pPxD/zAAEEQX/2gAIAQMBAT8BFZgePoeh4+TrwsGw7aFgn8D/zAAEEQX/2gAIAQIBAT8B' +
        'JfQXce+xeROh0EOjArkrGU3BIFxYgpPi8pqPffH+1BiJacsge+Bo3A2fB3y6KBL/zAAEEAX/2gAIAQEABj8CXhath2QZT7kpGQAdv7Ss' +
        'q5D/zAAEEAX/2gAIAQEAAT8h+i44ap+vo2PmRj2DKvIzjYLS9D64CQSZ1ecNxDw0xRVIlRZU5FPULyKAn5cupN2KucFyh+ieHBotLj+h' +
        'x/kiopBJOnncwHJnTBXL40lA/9oADAMBAAIAAwAAABBLOZXmYP/MAAQRBf/aAAgBAwEBPxBx4qkCm4hKgtixEf/MAAQRBf/aAAgBAgEB' +
        'PxAp9YRvll8okD8gQGQr9d41pfTI3CzTbBDjG+4BIMYiiR/Fu9IFFQ4wVEVPzsAROJ+3Rh62R9B3NF0foaT7CrDe8LR0gIUNVW2PkZD/' +
        'zAAEEAX/2gAIAQEAAT8Qdg+0qU5U4D9OEl9BERpE9RPn5fZFlvjw75v4sXJsCYaalYkczUHiYPX0txvvBIdTP2U7a+s/xZRXaM3Mdu/D' +
        'VuXOXgmME3el/wDPoPRF9fIZyts6jNChS0xOsfR2j00vzBudcdVlci/UBtF09w8k3WW3YrY0R99q9P0t03vEO5TwbzimI0OLIeKLN+BZ' +
        'Dpb3EW6yKWkt+M6QK+74Ji8Xmb8gCvgHkS0IdrVt/lklK2ghe2g4/9k=',
    ),
  },
];
