import crypto from 'node:crypto';
import {
  getCountryCallingCode,
  isSupportedCountry,
  parsePhoneNumberFromString,
  type CountryCode,
} from 'libphonenumber-js/max';
import { errors } from '../errors';

export interface NormalizedPhone {
  /** Country calling code without "+", e.g. "86". */
  regionNum: string;
  /** E.164, e.g. "+8613800138000". */
  e164: string;
}

/**
 * Accepts region_num as a calling code ("86", "+86") or an ISO country ("CN"), and phone_num in national
 * ("138 0013 8000") or international ("+86 138 0013 8000") format. The number must be valid for the region.
 */
export function normalizePhone(regionInput: string, phoneInput: string): NormalizedPhone {
  const region = regionInput.trim();
  let callingCode: string;
  let country: CountryCode | undefined;
  if (/^\+?\d{1,3}$/.test(region)) {
    callingCode = region.replace('+', '');
  } else if (/^[A-Za-z]{2}$/.test(region) && isSupportedCountry(region.toUpperCase())) {
    country = region.toUpperCase() as CountryCode;
    callingCode = getCountryCallingCode(country);
  } else {
    throw errors.invalidPhoneNumber(
      'region_num must be a country calling code such as "86" or a country such as "CN".',
    );
  }

  let parsed: ReturnType<typeof parsePhoneNumberFromString>;
  try {
    parsed = country
      ? parsePhoneNumberFromString(phoneInput, { defaultCountry: country })
      : parsePhoneNumberFromString(phoneInput, { defaultCallingCode: callingCode });
  } catch {
    // libphonenumber throws for a calling code no country has ("999", "0"): not a number we can reach.
    throw errors.invalidPhoneNumber(`region_num: no country has the calling code +${callingCode}.`);
  }
  if (!parsed || !parsed.isValid() || parsed.countryCallingCode !== callingCode) {
    throw errors.invalidPhoneNumber();
  }
  return { regionNum: callingCode, e164: parsed.number };
}

/** phone_hash: lowercase hex SHA-256 of the E.164 string. Clients compute the same. */
export function phoneHash(e164: string): string {
  return crypto.createHash('sha256').update(e164, 'utf8').digest('hex');
}
